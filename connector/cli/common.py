"""Helpers shared by CLI commands: finding and loading the config, reporting its problems."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.config import CONFIG_ENV, load_settings
from connector.errors import ConfigError
from connector.settings import Settings

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo.toml"
F = TypeVar("F", bound=Any)

_DEMO_KEY = "connector_demo"


def _remember_demo(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_DEMO_KEY] = True
    return value


def config_option(command: F) -> F:
    """`--config FILE` (default `$CONNECTOR_CONFIG`) and `--demo` (the bundled demo config),
    for every command that reads a config; `resolve_config_path` picks between them."""
    command = click.option(
        "--demo",
        is_flag=True,
        expose_value=False,
        callback=_remember_demo,
        help="Use the bundled demo config (SQLite under ./data).",
    )(command)
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"TOML config file (default: ${CONFIG_ENV}).",
    )(command)


def resolve_config_path(config_path: Path | None) -> Path:
    context = click.get_current_context(silent=True)
    if context is not None and context.meta.get(_DEMO_KEY):
        return DEMO_CONFIG
    if config_path is not None:
        return config_path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    raise click.UsageError(f"give --config FILE (or --demo) or set {CONFIG_ENV}")


def load_or_exit(path: Path, *, secrets: bool = True) -> Settings:
    """Load settings, or print every problem by key and exit with status 2.

    `secrets=False` for commands that never use them (a missing `${VAR}` is then allowed).
    The demo config's relative paths are the current folder's (it lives in the package).
    """
    base_dir = Path.cwd() if path == DEMO_CONFIG else None
    try:
        return load_settings(path, secrets=secrets, base_dir=base_dir)
    except ConfigError as error:
        click.echo(f"{path}: configuration is not valid:", err=True)
        for problem in error.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(2) from None
