"""`connector report rebuild`: the aggregates recounted from the stored events equal what the
real processor counted, on SQLite and PostgreSQL, whatever the batch size, run after run; and
clicks the worker processes during a rebuild are counted exactly once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import psycopg
import pytest
from click.testing import CliRunner

from connector.bots.detector import Detector
from connector.bots.settings import BotSettings
from connector.cli import main
from connector.pipeline.processor import Processor
from connector.reports.rebuild import count_stored, empty_reports, rebuild, recounted
from connector.rules.engine import RuleSet
from connector.storage.base import EventRecord, IngestBatch
from connector.storage.postgres import PgStore
from connector.storage.report_records import Subject
from connector.storage.sqlite import SqliteStore
from tests.scenarios.support import SCANNER_UA, T0, event
from tests.storage.conftest import Store

URL = "https://shop.example.org/pricing"


def clicks() -> list[EventRecord]:
    """A send's traffic: repeat clicks, a scanner, another link, a delivery (not a click)."""
    return [
        event("email.delivered", "ann", T0),
        event("email.clicked", "ann", T0 + 30, url=URL),
        event("email.clicked", "ann", T0 + 90, url=URL, serial="2"),
        event("email.clicked", "bob", T0 + 40, url=URL, user_agent=SCANNER_UA),
        event("email.clicked", "cy", T0 + 50, url="https://shop.example.org/other"),
        event("email.clicked", "dee", T0 + 4000, url=URL),
    ]


class Pipeline:
    """The real processor (bot verdicts, settling) on a store of either backend."""

    def __init__(self, store: Store, batch_size: int = 100) -> None:
        self.store = store
        detector = Detector.from_settings(BotSettings(settle_seconds=60))
        self.processor = Processor(RuleSet.from_settings([]), detector, batch_size=batch_size)

    def ingest(self, *events: EventRecord) -> None:
        batch = IngestBatch("esp", T0, list(events))
        self.store.transaction_sync(lambda tx: tx.ingest(batch))

    def process(self, now: float) -> int:
        return self.store.transaction_sync(lambda tx: self.processor.process(tx, now)).events

    def settle(self, now: float) -> int:
        """Settle every click due at `now`, batch after batch; how many."""
        settled = 0
        while done := self.store.transaction_sync(lambda tx: self.processor.settle(tx, now)):
            if not done.events:
                return settled
            settled += done.events
        return settled


def reports(store: Store) -> dict[str, Any]:
    """Every aggregate, read through the report operations."""

    def read(tx: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for subject in get_args(Subject):
            for totals in tx.report_subjects(subject, 1000):
                key = (subject, totals.key)
                found[f"{key}"] = (
                    totals,
                    tx.report_contacts(*key, 1000),
                    tx.report_timeline(*key, 0, 2e10),
                )
        return found

    return store.transaction_sync(read)


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_rebuild_equals_what_the_processor_counted(store: Store, batch_size: int) -> None:
    """Before and after settling, a rebuild (twice) gives the processor's aggregates back."""
    pipeline = Pipeline(store)
    pipeline.ingest(*clicks())
    pipeline.process(T0 + 100)  # immediate verdicts; none settled yet
    for now in (None, T0 + 10_000):
        if now is not None:
            assert pipeline.settle(now) == 5  # every click's window has passed
        counted = reports(store)
        assert counted, "the processor counted something"
        done = rebuild(store, batch_size=batch_size)
        assert (done.events, done.clicks) == (5, 5)
        assert reports(store) == counted
        rebuild(store, batch_size=batch_size)
        assert reports(store) == counted


def test_clicks_stored_before_the_reports_are_counted(store: Store) -> None:
    """Clicks routed without being counted (the aggregates lost, as before migration 0003 or
    after a copy) are back after a rebuild; the delivery is not a click."""
    pipeline = Pipeline(store)
    pipeline.ingest(*clicks())
    pipeline.process(T0 + 100)
    counted = reports(store)
    empty_reports(store)
    assert reports(store) == {}
    rebuild(store)
    assert reports(store) == counted
    totals = store.transaction_sync(lambda tx: tx.report_totals("link", URL))
    assert totals is not None and (totals.clicks, totals.contacts) == (4, 3)


def test_clicks_the_worker_handles_during_a_rebuild_count_once(store: Store) -> None:
    """A click still unprocessed when the reports are emptied, one stored afterwards, and
    one settled before the rebuild reached it: each counted exactly once."""
    pipeline = Pipeline(store, batch_size=3)
    first, *rest = clicks()
    pipeline.ingest(first, *rest[:-1])
    pipeline.process(T0 + 100)  # the delivery and ann's two clicks
    reset = empty_reports(store)
    assert len(reset.pending) == 2  # bob's and cy's, the worker's to count
    assert pipeline.process(T0 + 100) == 2
    pipeline.ingest(rest[-1])  # after the reset: the worker's too
    pipeline.process(T0 + 4100)
    assert pipeline.settle(T0 + 10_000) == 5  # ann's before the rebuild reads them
    done = count_stored(store, reset, batch_size=1)
    assert (done.events, done.clicks) == (2, 2)
    by_worker = reports(store)
    totals = store.transaction_sync(lambda tx: tx.report_totals("campaign", "spring"))
    assert totals is not None
    assert (totals.clicks, totals.human_settled + totals.suspected_settled) == (5, 5)
    rebuild(store)
    assert reports(store) == by_worker


def test_a_click_whose_routing_failed_is_not_counted(store: Store) -> None:
    """The processor counts a click only once routed: an error decision is left out."""
    pipeline = Pipeline(store)
    pipeline.ingest(*clicks()[:2])
    pipeline.process(T0 + 100)
    failed = store.transaction_sync(lambda tx: tx.report_events(0, 10, 10))[0]
    broken = replace(failed, decision=b'{"immediate": {"error": "KeyError: x"}}')
    assert recounted(broken) is None
    assert recounted(failed) is not None


def test_postgres_waits_for_a_worker_holding_the_reports(pg_url: str) -> None:
    """While another transaction holds a report table, the reset gives way and tries again
    (never a deadlock with a worker), then empties the tables."""
    store = PgStore(pg_url, bot_ttl_seconds=100)
    store.open_sync()
    holder = psycopg.connect(pg_url)
    holder.execute("LOCK TABLE report_unsettled IN ROW EXCLUSIVE MODE")
    pauses: list[float] = []

    def release(seconds: float) -> None:
        pauses.append(seconds)
        holder.rollback()

    try:
        reset = empty_reports(store, sleep=release)
    finally:
        holder.close()
        store.close_sync()
    assert len(pauses) == 1 and reset.last_seq == 0


def test_cli_rebuild_asks_first_then_recounts(tmp_path: Path) -> None:
    """`connector report rebuild` asks before emptying the reports (no: nothing changes),
    `--yes` recounts, and `connector report SUBJECT` still reads them."""
    db = tmp_path / "r.db"
    store = SqliteStore(db)
    store.open_sync()
    pipeline = Pipeline(store)
    pipeline.ingest(*clicks())
    pipeline.process(T0 + 100)
    empty_reports(store)
    store.close_sync()
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{db}"\n')
    runner = CliRunner()
    refused = runner.invoke(main, ["report", "rebuild", "--config", str(config)], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    empty = runner.invoke(main, ["report", "campaign", "--config", str(config)])
    assert "(none)" in empty.output
    done = runner.invoke(main, ["report", "rebuild", "--yes", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "5 clicks counted from 5 processed clicks" in done.output
    shown = runner.invoke(main, ["report", "show", "campaign", "--config", str(config)])
    assert "spring" in shown.output and shown.exit_code == 0
