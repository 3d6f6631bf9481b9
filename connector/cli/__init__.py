"""The `connector` command: one module per command group, imported only when used.

Adding a command = a module here exposing a click command or group, and one line in
`COMMANDS`.
"""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "serve": "connector.cli.serve:serve",
    "worker": "connector.cli.worker:worker",
    "check-config": "connector.cli.config:check_config",
    "config-reference": "connector.cli.config:config_reference",
    "schema": "connector.cli.schema:schema",
    "rules": "connector.cli.rules:rules",
    "deliveries": "connector.cli.deliveries:deliveries",
    "send-sample": "connector.cli.sample:send_sample",
    "bots": "connector.cli.bots:bots",
    "inspect": "connector.cli.inspect:inspect",
    "migrate": "connector.cli.storage:migrate",
    "copy-data": "connector.cli.storage:copy_data",
    "report": "connector.cli.report:report",
    "links": "connector.cli.links:links",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, so `connector --help` is instant."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            return None
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="click-connector")
def main() -> None:
    """Click Connector: verified ESP click webhooks, scored for bots, delivered durably."""
