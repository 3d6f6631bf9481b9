"""Filling the click index after routing without a check rule, on every backend."""

from __future__ import annotations

from functools import partial

from connector.bots.detector import Detector
from connector.bots.settings import BotSettings
from connector.pipeline.click_index import fill_page
from connector.pipeline.processor import Processor
from connector.rules.engine import RuleSet
from connector.rules.model import RuleSettings
from connector.scenarios.engine import ScenarioEngine
from connector.storage.base import IngestBatch
from connector.storage.scenario_records import SendKey
from tests.scenarios.support import T0, event
from tests.storage.conftest import Store

CHECK = {
    "id": "nudge",
    "trigger": "not_clicked",
    "at": "2026-12-02T09:00:00+00:00",
    "send": {"campaign_id": "spring"},
    "actions": ["crm"],
}


def _processor(rules: list[dict[str, object]]) -> Processor:
    settings = [RuleSettings.model_validate(rule) for rule in rules]
    detector = Detector.from_settings(BotSettings(settle_seconds=60))
    return Processor(RuleSet.from_settings(settings), detector, scenarios=ScenarioEngine(settings))


def test_the_fill_indexes_every_routed_click_with_its_stored_verdict(store: Store) -> None:
    """Clicks routed (one settled, one not) without a check rule are all in the index after
    the fill, settled as stored, and the gap is closed."""
    people = ("ann", "bob", "cat")
    clicks = [event("email.clicked", p, T0 + n * 100) for n, p in enumerate(people)]
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, clicks)))
    plain = _processor([{"id": "all", "actions": ["log"]}])
    store.transaction_sync(lambda tx: plain.process(tx, T0 + 200))
    store.transaction_sync(lambda tx: plain.settle(tx, T0 + 200))  # ann's and bob's windows
    checks = _processor([CHECK])
    after: int | None = 0
    while after is not None:
        page = partial(fill_page, engine=checks.scenarios, after=after, now=T0, page=2)
        after = store.transaction_sync(page)
    send = SendKey("campaign", "spring")
    indexed = store.transaction_sync(lambda tx: tx.send_clicks(send, "", "\uffff", T0 + 999))
    assert [(c.recipient.split("@")[0], c.settled) for c in indexed] == [
        ("ann", True),
        ("bob", True),
        ("cat", False),
    ]
    assert store.transaction_sync(lambda tx: tx.click_index_gap()) is None
