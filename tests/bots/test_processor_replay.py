"""The service's processor, on a real SQLite file, stores the verdicts `bots evaluate` prints.

`bots evaluate` promises to run events "through the very detector the service uses, both
passes". This runs a slice of the labelled corpus through `Processor.process` and
`Processor.settle` as the worker loop does (ingest in arrival order, settle what is due, route
what is new, in batches) and compares each click's stored verdicts with the replay's.
"""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from connector.bots.detector import Detector
from connector.bots.evaluate import read_events, run
from connector.bots.keys import epoch_seconds
from connector.bots.settings import BotSettings
from connector.pipeline.processor import Processed, Processor
from connector.rules.engine import RuleSet
from connector.storage.base import EventRecord, IngestBatch
from connector.storage.sqlite import SqliteStore
from connector.storage.sqlite_tx import SqliteTx
from schemas.events import EmailClicked, EmailDelivered

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "bots" / "corpus.jsonl.gz"
SETTINGS = BotSettings(use_cloudip_package=False)
BATCH = 40


def _record(event: EmailClicked | EmailDelivered) -> EventRecord:
    return EventRecord(
        event.id,
        event.type,
        event.source,
        event.provider,
        epoch_seconds(event.occurred_at),
        epoch_seconds(event.received_at),
        orjson.dumps(event.model_dump(mode="json")),
        b"{}",
    )


def _until_done(
    store: SqliteStore, step: Callable[[SqliteTx, float], Processed], now: float
) -> None:
    """Run a processor pass in transactions until it finds nothing more to do."""
    while store.transaction_sync(lambda tx: step(tx, now)).events:
        pass


def test_processor_stores_the_verdicts_of_the_replay(tmp_path: Path) -> None:
    """Both verdicts of every click, as the processor stores them, are the replay's."""
    with gzip.open(CORPUS, "rb") as stream:
        events = read_events(itertools.islice(stream, 1500)).events
    lines = [orjson.dumps(event.model_dump(mode="json")) for event in events]
    expected = run(read_events(lines), Detector(SETTINGS))
    order = sorted(events, key=lambda e: (e.received_at, e.occurred_at))
    store = SqliteStore(tmp_path / "service.db")
    store.open_sync()
    processor = Processor(RuleSet.from_settings([]), Detector(SETTINGS), batch_size=BATCH)
    immediate: dict[str, object] = {}
    try:
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            now = epoch_seconds(chunk[0].received_at)
            _until_done(store, processor.settle, now)  # what is due, before newer arrivals
            batch = IngestBatch("corpus", now, [_record(event) for event in chunk])
            store.transaction_sync(lambda tx, batch=batch: tx.ingest(batch))
            _until_done(store, processor.process, now)
            for event in chunk:  # the immediate verdict, before the settled one replaces it
                if isinstance(event, EmailClicked):
                    found = store.transaction_sync(lambda tx, i=event.id: tx.event(i))
                    assert found is not None
                    immediate[event.id] = found["event"]["bot"]
        _until_done(store, processor.settle, datetime(2100, 1, 1, tzinfo=UTC).timestamp())
        stored = {
            event.id: store.transaction_sync(lambda tx, i=event.id: tx.event(i))
            for event in events
            if isinstance(event, EmailClicked)
        }
    finally:
        store.close_sync()
    assert len(stored) == len(expected.settled) > 500
    assert immediate == {i: bot.model_dump(mode="json") for i, bot in expected.immediate.items()}
    for event_id, found in stored.items():
        assert found is not None and found["settled"] is True
        assert found["event"]["bot"] == expected.settled[event_id].model_dump(mode="json")
