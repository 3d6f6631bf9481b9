"""`connector migrate` and `connector copy-data`: the database's schema and its move to
PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path


@click.command("migrate")
@config_option
@click.option("--check", is_flag=True, help="Only report pending migrations (exit 1 if any).")
def migrate(config_path: Path | None, check: bool) -> None:
    """Bring the configured database's schema up to date (serve also does it at start)."""
    from connector.errors import StorageUnavailable
    from connector.storage.migrate import migrate as run
    from connector.storage.migrate import migrations_for
    from connector.storage.postgres import yoyo_url

    storage = load_or_exit(resolve_config_path(config_path), secrets=False).storage
    url = (
        f"sqlite:///{storage.sqlite_path.resolve()}"
        if storage.backend == "sqlite"
        else yoyo_url(storage.url)
    )
    try:
        report = run(storage.backend, url, apply=not check)
    except StorageUnavailable as error:
        raise click.ClickException(error.message) from None
    known = [m.id for m in migrations_for(storage.backend)]
    pending = [m for m in known if m not in report.current]
    click.echo(
        f"{storage.redacted_url}: {len(report.current)} of {len(known)} migration(s) applied"
    )
    for name in report.applied:
        click.echo(f"  applied {name}")
    if check and pending:
        click.echo(f"  pending: {', '.join(pending)}")
        sys.exit(1)


@click.command("copy-data")
@config_option
@click.option("--to", "target", required=True, help="postgresql://... (an empty database).")
def copy_data(config_path: Path | None, target: str) -> None:
    """Copy the configured SQLite database into an empty PostgreSQL database: events and
    dedup ids, pending and dead deliveries, checks and waits, bot evidence. Stop the
    service first; then point storage.url at the new database."""
    from connector.cli.progress import progress
    from connector.storage.copy import TargetNotEmpty, copy_sqlite_to_postgres, count_rows

    storage = load_or_exit(resolve_config_path(config_path), secrets=False).storage
    if storage.backend != "sqlite":
        raise click.ClickException("copy-data copies from a sqlite:/// storage.url")
    if not target.startswith(("postgresql://", "postgres://")):
        raise click.ClickException("--to must be a postgresql:// URL")
    path = storage.sqlite_path
    if not path.exists():
        raise click.ClickException(f"{path} does not exist")
    try:
        with progress(count_rows(path), "copying") as advance:
            copied = copy_sqlite_to_postgres(path, target, lambda table, rows: advance(rows))
    except TargetNotEmpty as error:
        raise click.ClickException(f"{error}: copy into an empty database") from None
    for item in copied:
        click.echo(f"  {item.table}: {item.rows} row(s)")
    click.echo(f"copied {sum(c.rows for c in copied)} row(s) from {path}")
