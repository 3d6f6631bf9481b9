"""A poison event whose routing fails inside the database is set aside on both backends,
and the rest of its batch is routed (PostgreSQL would otherwise abort the whole batch)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.pipeline.processor import Processed, Processor
from connector.rules.engine import RuleSet
from connector.rules.model import RuleSettings
from connector.scenarios.engine import ScenarioEngine
from connector.storage.base import IngestBatch, Tx
from connector.storage.scenario_records import RecipientRecord
from tests.scenarios.support import T0, event


def test_a_failing_statement_sets_one_event_aside(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [RuleSettings.model_validate({"id": "all", "actions": ["crm"]})]
    engine = ScenarioEngine(rules)
    processor = Processor(RuleSet.from_settings(rules), None, scenarios=engine)
    clicks = [event("email.clicked", p, T0) for p in ("ann", "bob", "cat")]
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, clicks)))
    poison = clicks[1].id
    real = engine.admit

    def admit(tx: Tx, decision: Any, data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if data["id"] == poison:  # a statement the database refuses, mid-event
            row = RecipientRecord(None, "m", "c", "delivered", 1.0, False, b"{}")  # type: ignore[arg-type]
            tx.record_recipients([row])  # NOT NULL recipient
        return real(tx, decision, data, *args, **kwargs)

    monkeypatch.setattr(engine, "admit", admit)
    done = store.transaction_sync(lambda tx: processor.process(tx, T0 + 1))
    assert done.events == 3 and done.deliveries == 2
    decisions = {
        c.id: store.transaction_sync(lambda tx, c=c: tx.event(c.id))["decision"] for c in clicks
    }
    assert "error" in decisions[poison]["immediate"]
    assert all("matched" in d["immediate"] for i, d in decisions.items() if i != poison)


def test_report_counts_the_database_refuses_do_not_stop_routing(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch-wide report write failing (a value the database cannot hold) leaves the
    batch routed and its deliveries queued; only the reports miss it (until a rebuild)."""
    rules = [RuleSettings.model_validate({"id": "all", "actions": ["crm"]})]
    processor = Processor(RuleSet.from_settings(rules), None)
    clicks = [event("email.clicked", p, T0) for p in ("ann", "bob")]
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, clicks)))

    def refuse(tx: Tx) -> Processed:
        def count_clicks(counted: Any) -> None:
            tx.record_recipients([RecipientRecord(None, "m", "c", "delivered", 1.0, False, b"{}")])  # type: ignore[arg-type]

        monkeypatch.setattr(tx, "count_clicks", count_clicks)
        return processor.process(tx, T0 + 1)

    done = store.transaction_sync(refuse)
    assert done.events == 2 and done.deliveries == 2
    assert store.transaction_sync(lambda tx: tx.pending_events(10)) == []
    assert store.transaction_sync(lambda tx: tx.report_subjects("campaign")) == []
