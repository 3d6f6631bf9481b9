"""Helpers shared by CLI commands: finding and loading the config, reporting its problems."""

from __future__ import annotations

import os
from pathlib import Path

import click

from connector.errors import ConfigError
from connector.settings import CONFIG_ENV, Settings, load_settings

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo.toml"

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"TOML config file (default: ${CONFIG_ENV}).",
)


def resolve_config_path(config_path: Path | None) -> Path:
    if config_path is not None:
        return config_path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    raise click.UsageError(f"give --config FILE or set {CONFIG_ENV}")


def load_or_exit(path: Path) -> Settings:
    """Load settings, or print every problem by key and exit with status 2."""
    try:
        return load_settings(path)
    except ConfigError as error:
        click.echo(f"{path}: configuration is not valid:", err=True)
        for problem in error.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(2) from None
