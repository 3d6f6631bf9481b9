"""`connector report SUBJECT [KEY]`: click reports in the terminal (or as CSV);
`connector report rebuild`: count them again from the stored events.

Without KEY: every subject of that kind with its totals. With KEY: that subject's totals,
its clicks per hour over the last days up to its last click, and who clicked. Reads the
aggregates the processor keeps, so it is as quick on a large store as on a small one.
`rebuild` recounts those aggregates (`connector/reports/rebuild.py`) for clicks the
processor never counted (stored before the reports existed, copied in). Neither needs
secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.cli.progress import Advance, progress
from connector.reports import tables
from connector.reports.rebuild import (
    BATCH_SIZE,
    Progress,
    RebuildBusy,
    count_stored,
    empty_reports,
)
from connector.storage.base import Tx
from connector.storage.factory import open_store
from connector.storage.report_records import ContactClicks, ReportTotals, Subject, TimeBucket

HOUR = 3600.0
Found = tuple[ReportTotals, list[TimeBucket], list[ContactClicks]] | None


class _ShowByDefault(click.Group):
    """`connector report SUBJECT [KEY]` as ever, with `rebuild` beside it: arguments that
    do not start with a subcommand's name are `show`'s."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ShowByDefault)
def report() -> None:
    """Click reports: `connector report SUBJECT [KEY]` shows them (`show` may be left
    out), `connector report rebuild` counts them again from the stored events."""


@report.command("show")
@config_option
@click.argument("subject", type=click.Choice(tables.SUBJECTS))
@click.argument("key", required=False)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--hours", type=click.IntRange(1, 24 * 366), default=48, show_default=True)
def show(
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
            rows = store.transaction_sync(lambda tx: tx.report_subjects(kind, limit + 1))
            _print(as_csv, tables.TOTALS_COLUMNS, [tables.totals_row(t) for t in rows[:limit]])
            _say_if_cut(len(rows), limit, f"{subject}s by key")
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
    _print(as_csv, tables.CONTACT_COLUMNS, [tables.contact_row(c) for c in contacts[:limit]])
    _say_if_cut(len(contacts), limit, "contacts by recipient")


def _say_if_cut(found: int, limit: int, what: str) -> None:
    """On stderr, so a CSV on stdout stays clean: one more row than shown was found."""
    if found > limit:
        click.echo(f"(the first {limit} {what}; --limit for more)", err=True)


def _one(tx: Tx, subject: Subject, given: str, limit: int, hours: int) -> Found:
    found = (tx.report_totals(subject, key) for key in tables.keys_to_try(subject, given))
    totals = next((t for t in found if t is not None), None)
    if totals is None:
        return None
    key = totals.key
    until = ((totals.last_at or 0.0) // HOUR + 1) * HOUR
    timeline = tx.report_timeline(subject, key, until - hours * HOUR, until)
    return totals, timeline, tx.report_contacts(subject, key, limit + 1)  # one more: is it cut?


def _print(as_csv: bool, columns: tuple[str, ...], rows: list[tables.Row]) -> None:
    if as_csv:
        click.echo(tables.csv_text(columns, rows), nl=False)
    elif rows:
        click.echo(tables.text_table(columns, rows))
    else:
        click.echo("(none)")


@report.command("rebuild")
@config_option
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=BATCH_SIZE,
    show_default=True,
    help="Events read and counted per transaction (ingest waits at most for one).",
)
@click.option(
    "--pause-ms",
    type=click.IntRange(0, 60_000),
    default=0,
    show_default=True,
    help="Pause between batches, to leave a busy store more room.",
)
@click.option("--yes", is_flag=True, help="Do not ask before emptying the reports.")
def rebuild_command(config_path: Path | None, batch_size: int, pause_ms: int, yes: bool) -> None:
    """Empty the click reports and count them again from the stored events.

    For clicks the processor never counted: events stored before the reports existed, or
    copied in. The service may keep running: clicks it processes meanwhile are counted once.
    Clicks of events already pruned by retention drop out of the reports. Running it again
    gives the same reports; an interrupted rebuild is finished by running it again.
    """
    settings = load_or_exit(resolve_config_path(config_path), secrets=False)
    if not yes:
        click.confirm("Empty the click reports and count them again?", abort=True)
    store = open_store(settings)
    store.open_sync()
    try:
        reset = empty_reports(store)
        with progress(reset.last_seq, "counting") as advance:
            done = count_stored(store, reset, batch_size, pause_ms / 1000, _moving(advance))
    except RebuildBusy as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.close_sync()
    click.echo(
        f"reports rebuilt: {done.clicks} clicks counted from {done.events} processed clicks"
        f" (events up to #{done.last_seq}; later ones are the worker's to count)"
    )


def _moving(advance: Advance) -> Callable[[Progress], None]:
    """A progress report that moves the bar by the events read since the last one."""
    done = [0]

    def report(now: Progress) -> None:
        advance(now.seq - done[0])
        done[0] = now.seq

    return report
