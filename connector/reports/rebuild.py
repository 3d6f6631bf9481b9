"""Recounting the report aggregates from the stored events (`connector report rebuild`).

The processor counts each click as it routes and settles it, so clicks it never saw are
missing from the reports: events stored before the reports existed, or copied in from
elsewhere. A rebuild empties the aggregates (`Tx.reset_reports`, at one moment no click is
half counted), then counts every click processed before that moment, in batches of events
in `seq` order, each batch one short transaction so ingest and the worker go on between
them. Clicks processed after that moment are counted by the processor as usual, so the
service keeps running during a rebuild and nothing is counted twice; running it again gives
the same reports (it starts over), so an interrupted rebuild is finished by running it again.

A click is counted as the processor counted it (`recorder.counted`), at its stored verdict:
unsettled clicks with their immediate verdict (their settlement is counted when it comes),
settled ones with the settled verdict. Storage keeps only the latest verdict, so for a
settled click the immediate counts follow the settled verdict too. Events pruned by retention
are gone: their clicks leave the reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from connector.reports.recorder import counted
from connector.storage.base import Store, Tx
from connector.storage.report_records import CountedClick, ReportEvent, ReportReset

RESET_ATTEMPTS = 50  # PostgreSQL: each waits up to 200 ms for the report tables
BATCH_SIZE = 100  # events per transaction: ~7 ms of SQLite's write lock (bench/reports_rebuild.py)


class RebuildBusy(Exception):
    """The report tables stayed locked by other transactions through every attempt."""


@dataclass(frozen=True, slots=True)
class Progress:
    last_seq: int  # the highest event id the rebuild counts up to
    seq: int  # read up to here
    events: int  # clicks read so far that were processed before the reset
    clicks: int  # counted so far (clicks the processor had counted: not scenario checks)


def rebuild(
    store: Store,
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
    report: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Empty the aggregates and count the stored clicks again; the final progress."""
    return count_stored(store, empty_reports(store, sleep), batch_size, pause, report, sleep)


def empty_reports(store: Store, sleep: Callable[[float], None] = time.sleep) -> ReportReset:
    """Empty the aggregates (PostgreSQL: as soon as no worker holds them)."""
    for _ in range(RESET_ATTEMPTS):
        reset = store.transaction_sync(lambda tx: tx.reset_reports())
        if reset is not None:
            return reset
        sleep(0.05)
    raise RebuildBusy("the report tables stayed locked by other transactions; try again")


def count_stored(
    store: Store,
    reset: ReportReset,
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
    report: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Count the clicks `reset` leaves to a rebuild, a batch per transaction."""
    progress = Progress(reset.last_seq, 0, 0, 0)
    while progress.seq < reset.last_seq:
        batch = partial(count_batch, reset=reset, after=progress.seq, limit=batch_size)
        seq, read, clicks = store.transaction_sync(batch)
        progress = Progress(reset.last_seq, seq, progress.events + read, progress.clicks + clicks)
        if report is not None:
            report(progress)
        if pause and progress.seq < reset.last_seq:
            sleep(pause)
    return progress


def count_batch(tx: Tx, reset: ReportReset, after: int, limit: int) -> tuple[int, int, int]:
    """Count the next batch: (the seq read up to, events read, clicks counted)."""
    rows = tx.report_events(after, reset.last_seq, limit)
    mine = [row for row in rows if row.seq not in reset.pending]
    clicks = [click for row in mine if (click := recounted(row)) is not None]
    if clicks:
        tx.count_clicks(clicks)
    seq = rows[-1].seq if len(rows) == limit else reset.last_seq
    return seq, len(mine), len(clicks)


def recounted(row: ReportEvent) -> CountedClick | None:
    """The click as the processor counted it, or None where it counted nothing."""
    decision = _json(row.decision)
    if _failed(decision.get("immediate")):
        return None  # routing failed: the processor counts a click only once it is routed
    bot = _json(row.bot)
    settled = row.settle_at is None or (row.settled and not _failed(decision.get("settled")))
    return counted(
        orjson.loads(row.payload), bool(bot.get("suspected")), row.received_at, final=settled
    )


def _json(value: bytes | str | None) -> dict[str, Any]:
    found = orjson.loads(value) if value else {}
    return found if isinstance(found, dict) else {}


def _failed(decision: Any) -> bool:
    return isinstance(decision, dict) and "error" in decision
