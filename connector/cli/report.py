"""`connector report SUBJECT [KEY]`: click reports in the terminal (or as CSV).

Without KEY: every subject of that kind with its totals. With KEY: that subject's totals,
its clicks per hour over the last days up to its last click, and who clicked. Reads the
aggregates the processor keeps, so it is as quick on a large store as on a small one.
Needs no secrets: it only reads the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.reports import tables
from connector.storage.base import Tx
from connector.storage.factory import open_store
from connector.storage.report_records import ContactClicks, ReportTotals, Subject, TimeBucket

HOUR = 3600.0
Found = tuple[ReportTotals, list[TimeBucket], list[ContactClicks]] | None


@click.command()
@config_option
@click.argument("subject", type=click.Choice(tables.SUBJECTS))
@click.argument("key", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--hours", type=click.IntRange(1, 24 * 366), default=48, show_default=True)
def report(
    config_path: Path | None,
    subject: str,
    key: str | None,
    as_csv: bool,
    limit: int,
    hours: int,
) -> None:
    """Clicks per link, trigger link, campaign or message: totals, human vs suspected
    (immediate and settled verdicts), clicks per hour, and who clicked."""
    kind = cast(Subject, subject)
    settings = load_or_exit(resolve_config_path(config_path), secrets=False)
    store = open_store(settings)
    store.open_sync()
    try:
        if key is None:
            rows = store.transaction_sync(lambda tx: tx.report_subjects(kind, limit))
            _print(as_csv, tables.TOTALS_COLUMNS, [tables.totals_row(t) for t in rows])
            return
        found = store.transaction_sync(lambda tx: _one(tx, kind, key, limit, hours))
    finally:
        store.close_sync()
    if found is None:
        raise click.ClickException(f"no clicks for {subject} {key!r}")
    totals, timeline, contacts = found
    _print(as_csv, tables.TOTALS_COLUMNS, [tables.totals_row(totals)])
    click.echo()
    _print(as_csv, tables.TIMELINE_COLUMNS, [tables.bucket_row(b) for b in timeline])
    click.echo()
    _print(as_csv, tables.CONTACT_COLUMNS, [tables.contact_row(c) for c in contacts])


def _one(tx: Tx, subject: Subject, key: str, limit: int, hours: int) -> Found:
    totals = tx.report_totals(subject, key)
    if totals is None:
        return None
    until = ((totals.last_at or 0.0) // HOUR + 1) * HOUR
    timeline = tx.report_timeline(subject, key, until - hours * HOUR, until)
    return totals, timeline, tx.report_contacts(subject, key, limit)


def _print(as_csv: bool, columns: tuple[str, ...], rows: list[tables.Row]) -> None:
    if as_csv:
        click.echo(tables.csv_text(columns, rows), nl=False)
    elif rows:
        click.echo(tables.text_table(columns, rows))
    else:
        click.echo("(none)")
