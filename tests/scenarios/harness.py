"""A processor on a real SQLite file, driven by hand with a chosen clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from connector.bots.detector import Detector
from connector.bots.settings import BotSettings
from connector.pipeline.processor import Processor
from connector.rules.engine import RuleSet
from connector.rules.model import RuleSettings
from connector.scenarios.engine import ScenarioEngine
from connector.storage.base import EventRecord, IngestBatch
from connector.storage.sqlite import SqliteStore


class Harness:
    def __init__(self, path: Path, rules: list[dict[str, Any]], *, settle_seconds: float = 60):
        self.store = SqliteStore(path)
        self.store.open_sync()
        settings = [RuleSettings.model_validate(rule) for rule in rules]
        detector = Detector.from_settings(BotSettings(settle_seconds=settle_seconds))
        self.engine = ScenarioEngine(settings)
        self.processor = Processor(RuleSet.from_settings(settings), detector, scenarios=self.engine)

    def close(self) -> None:
        self.store.close_sync()

    def ingest(self, *events: EventRecord) -> None:
        batch = IngestBatch("esp", events[0].received_at, list(events))
        self.store.transaction_sync(lambda tx: tx.ingest(batch))

    def run(self, now: float) -> None:
        """Everything due at `now`: config checks, routing, settling, timers, until quiet."""
        tx = self.store.transaction_sync
        tx(lambda t: self.engine.schedule_config_checks(t, now))
        for _ in range(1000):
            work = tx(lambda t: self.processor.process(t, now)).events
            work += tx(lambda t: self.processor.settle(t, now)).events
            work += tx(lambda t: self.engine.fire(t, now)).timers
            if not work:
                return
        raise AssertionError("the pipeline never went quiet")

    def deliveries(self, action: str | None = None) -> list[dict[str, Any]]:
        """The bodies queued for `action` (every action when None), oldest first."""
        with sqlite3.connect(self.store.path) as conn:
            rows = conn.execute(
                "SELECT action_id, body FROM deliveries JOIN delivery_bodies USING (id)"
                " ORDER BY created_at, id"
            ).fetchall()
        return [{"action": a, **orjson.loads(body)} for a, body in rows if action in (None, a)]

    def decision(self, event_id: str) -> dict[str, Any]:
        stored = self.store.transaction_sync(lambda tx: tx.event(event_id))
        assert stored is not None
        return dict(stored["decision"])
