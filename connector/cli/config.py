"""`connector check-config FILE`: report every configuration problem without starting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from connector.cli.common import load_or_exit


@click.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def check_config(path: Path) -> None:
    """Validate the config at PATH; exit 2 and list the problems if it is not valid."""
    settings = load_or_exit(path)
    stale = settings.stale_checks(datetime.now(UTC))
    if stale:
        click.echo(f"{path}: configuration is not valid:", err=True)
        for problem in stale:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(2)
    click.echo(
        f"{path}: OK — {len(settings.sources)} source(s), {len(settings.rules)} rule(s), "
        f"{len(settings.actions)} action(s)"
    )
    for source in settings.sources:
        click.echo(f"  source {source.id}: {source.provider} at /webhooks/{source.id}")
    click.echo(f"  worker: {settings.worker.mode}")
    for warning in settings.warnings():
        click.echo(f"warning: {warning}", err=True)


@click.command("config-reference")
def config_reference() -> None:
    """Print every configuration key with its type, default and meaning (Markdown)."""
    from connector.reference import reference

    click.echo(reference(), nl=False)
