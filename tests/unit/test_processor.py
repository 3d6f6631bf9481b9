"""The processor: immediate and settled routing, one delivery per action, poison events."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from connector.bots.detector import Detector
from connector.bots.settings import BotSettings
from connector.pipeline.processor import Processor
from connector.rules.engine import RuleSet
from connector.rules.model import RuleSettings
from connector.storage.base import EventRecord, IngestBatch
from connector.storage.sqlite import SqliteStore
from providers.customerio import parse
from tests.support.fixtures import cases

CLICK = next(c for c in cases("customerio") if c.name == "click")


def _click_record(event_id: str = "evt_1") -> EventRecord:
    event = parse(CLICK.request(), CLICK.source()).events[0].event
    event.id = event_id
    payload = orjson.dumps(event.model_dump(mode="json"))
    return EventRecord(event_id, event.type, "cio", "customerio", 1.0, 2.0, payload, b"{}")


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = SqliteStore(tmp_path / "p.db")
    db.open_sync()
    yield db
    db.close_sync()


def _rules(*rules: dict[str, object]) -> RuleSet:
    return RuleSet.from_settings([RuleSettings.model_validate(rule) for rule in rules])


def _deliveries(store: SqliteStore) -> list[tuple[str, str]]:
    with sqlite3.connect(store.path) as conn:
        rows = conn.execute("SELECT action_id, rule_ids FROM deliveries ORDER BY action_id")
        return [(a, r) for a, r in rows.fetchall()]


def test_settled_rules_wait_and_each_action_is_delivered_once(store: SqliteStore) -> None:
    """Real-time rules fan out at once, settled ones after settling; a shared action once."""
    detector = Detector.from_settings(BotSettings(settle_seconds=60))
    processor = Processor(
        _rules(
            {"id": "now", "actions": ["a", "shared"]},
            {"id": "later", "actions": ["b", "shared"], "wait_for_settled": True},
        ),
        detector,
    )
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("cio", 2.0, [_click_record()])))
    first = store.transaction_sync(lambda tx: processor.process(tx, now=3.0))
    assert first.events == 1
    assert [a for a, _ in _deliveries(store)] == ["a", "shared"]
    early = store.transaction_sync(lambda tx: processor.settle(tx, now=3.0))
    assert early.events == 0
    far_future = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    settled = store.transaction_sync(lambda tx: processor.settle(tx, now=far_future))
    assert settled.events == 1
    assert [a for a, _ in _deliveries(store)] == ["a", "b", "shared"]
    stored = store.transaction_sync(lambda tx: tx.event("evt_1"))
    assert stored is not None
    assert stored["event"]["bot"]["phase"] == "settled"
    assert set(stored["decision"]) == {"immediate", "settled"}
    # the settled pass serves, and so decides for, only the rules that wait for it
    assert [m["rule"] for m in stored["decision"]["settled"]["matched"]] == ["later"]
    assert stored["decision"]["settled"]["unmatched"] == []


def test_without_waiting_rules_the_settled_pass_stores_the_verdict_only(
    store: SqliteStore,
) -> None:
    """No rule waits: the settled verdict is stored, nothing is decided or routed again."""
    processor = Processor(
        _rules({"id": "now", "actions": ["a"]}),
        Detector.from_settings(BotSettings(settle_seconds=60)),
    )
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("cio", 2.0, [_click_record()])))
    store.transaction_sync(lambda tx: processor.process(tx, now=3.0))
    far_future = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    settled = store.transaction_sync(lambda tx: processor.settle(tx, now=far_future))
    assert (settled.events, settled.deliveries) == (1, 0)
    stored = store.transaction_sync(lambda tx: tx.event("evt_1"))
    assert stored is not None and stored["settled"] is True
    assert stored["event"]["bot"]["phase"] == "settled"
    assert stored["decision"]["settled"] == {"matched": [], "unmatched": []}
    assert [a for a, _ in _deliveries(store)] == ["a"]


def test_without_detector_settled_rules_route_immediately(store: SqliteStore) -> None:
    """With bot scoring off, wait_for_settled rules are served in the first pass."""
    processor = Processor(_rules({"id": "later", "actions": ["b"], "wait_for_settled": True}), None)
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("cio", 2.0, [_click_record()])))
    store.transaction_sync(lambda tx: processor.process(tx, now=3.0))
    assert [a for a, _ in _deliveries(store)] == ["b"]


def test_poison_event_is_recorded_and_does_not_block_others(store: SqliteStore) -> None:
    """An event that makes processing fail is marked with the error; the next is routed."""
    bad = EventRecord("evt_bad", "email.clicked", "cio", "customerio", 1.0, 2.0, b"\xff", b"{}")
    batch = IngestBatch("cio", 2.0, [bad, _click_record("evt_good")])
    store.transaction_sync(lambda tx: tx.ingest(batch))
    processor = Processor(_rules({"id": "all", "actions": ["a"]}), None)
    result = store.transaction_sync(lambda tx: processor.process(tx, now=3.0))
    assert result.events == 2
    assert result.deliveries == 1
    poisoned = store.transaction_sync(lambda tx: tx.event("evt_bad"))
    assert poisoned is not None
    assert poisoned["processed"] is True
    assert "JSONDecodeError" in poisoned["decision"]["immediate"]["error"]


def test_routed_data_equals_the_full_model_dump_with_the_verdict() -> None:
    """Parsing our stored payload and swapping in the verdict gives what dumping the model
    with that verdict gives, for every provider's sample clicks (what the processor relies on).
    """
    from pydantic_core import to_json

    from providers.registry import PROVIDERS
    from schemas import Bot, EmailClicked
    from tests.support.fixtures import all_cases

    verdict = Bot(suspected=True, score=90, band="certain", phase="settled", version="v")
    checked: set[str] = set()
    for case in all_cases():
        provider = PROVIDERS[case.provider]
        for parsed in provider.parse(case.request(), case.source()).events:
            if not isinstance(parsed.event, EmailClicked):
                continue
            data = orjson.loads(to_json(parsed.event))
            data["bot"] = verdict.model_dump(mode="json")
            parsed.event.bot = verdict
            assert data == parsed.event.model_dump(mode="json"), case.id
            checked.add(case.provider)
    assert checked == set(PROVIDERS)
