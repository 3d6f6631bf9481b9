"""After the 2xx: assess each stored event for bots, route it through the rules, fill the outbox.

Runs off the request path, in storage transactions, so a crash between receipt and routing
only delays the work: unprocessed events stay in the inbox and are picked up on restart.
Clicks get two passes: `process` gives the immediate bot verdict and serves real-time rules;
`settle` runs when the detector's settling window has passed and serves rules with
`wait_for_settled = true`; its stored decision names only those rules (with none, it stores
the settled verdict and routes nothing). Each (event, action) pair becomes at most one
delivery, whichever rules and phases name it, so downstream apps never see the same event
twice per action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
import structlog

from connector.bots.detector import Detector
from connector.bots.verdict import verdict_data
from connector.metrics import Metrics
from connector.pipeline.click_index import INDEXED_TYPE, reads_clicks
from connector.reports.recorder import ReportCounts
from connector.rules.decision import Decision
from connector.rules.engine import RuleSet
from connector.scenarios.engine import ScenarioEngine
from connector.storage.base import NewDelivery, Routed, StoredEvent, Tx
from schemas import Bot
from schemas.compiled import decode
from schemas.ids import digest
from schemas.views import ClickView

log = structlog.get_logger("connector.processor")
# The types the bot detector reads: clicks, and deliveries for timing.
_OBSERVED = frozenset({"email.clicked", "link.clicked", "email.delivered"})


@dataclass(frozen=True, slots=True)
class Processed:
    events: int
    deliveries: int


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def delivery_id(event_id: str, action_id: str) -> str:
    """Stable per (event, action): it is the `webhook-id` downstream apps de-duplicate on."""
    return "dlv_" + digest(event_id, action_id)


class Processor:
    def __init__(
        self,
        rules: RuleSet,
        detector: Detector | None,
        metrics: Metrics | None = None,
        batch_size: int = 100,
        scenarios: ScenarioEngine | None = None,
    ) -> None:
        self.rules = rules
        self.settled_rules = rules.waiting()
        self.detector = detector
        self.metrics = metrics
        self.batch_size = batch_size
        self.scenarios = scenarios or ScenarioEngine([])
        # No check rule, no click index (click_index.py: a later one fills it first).
        self.indexes_clicks = reads_clicks(self.scenarios)

    def process(self, tx: Tx, now: float) -> Processed:
        """Immediate pass over the oldest unprocessed events (one transaction)."""
        stored = tx.pending_events(self.batch_size)
        if stored and not self.indexes_clicks:
            tx.open_click_index_gap(now)
        state = tx.bot_state() if self.detector else None
        outbox: list[NewDelivery] = []
        routed: list[Routed] = []
        counts = ReportCounts(now)
        for row in stored:
            try:
                with tx.isolated():
                    outcome, deliveries = self._process_one(tx, row, state, now, counts)
            except Exception as error:  # a poison event must not block the inbox
                log.exception("processor.event_failed", event_id=row.id)
                routed.append(Routed(row.id, None, {"error": _describe(error)}))
                continue
            routed.append(outcome)
            outbox += deliveries
        _flush_counts(tx, counts, stored)
        if routed:
            tx.complete_events(routed)
        added = tx.add_deliveries(outbox) if outbox else 0
        return Processed(events=len(stored), deliveries=added)

    def _process_one(
        self, tx: Tx, row: StoredEvent, state: Any, now: float, counts: ReportCounts
    ) -> tuple[Routed, list[NewDelivery]]:
        """Immediate verdict and real-time routing for one event, and its deliveries.

        The stored payload is never rewritten: the verdict goes to its own column. What rules
        and actions see is the payload (our own serialisation, so parsing it equals dumping
        the model, at a fraction of the cost) with the verdict in place of its `bot` block.
        Events a check emitted are not the detector's to observe: they carry their verdict.
        """
        settle_at: float | None = None
        bot: bytes | None = None
        suspected = False
        data = orjson.loads(row.payload)
        observed = row.type in _OBSERVED and data.get("scenario") is None
        if self.detector is not None and state is not None and observed:
            event = decode(row.type, row.payload)  # validated at ingest: the twin suffices
            verdict = self.detector.observe(event, state)
            if verdict is not None:  # a click
                settle_at = self.detector.settle_at(event).timestamp()
                self._count_bot(verdict)
                suspected = verdict.suspected
                data["bot"] = verdict_data(verdict)
                bot = orjson.dumps(data["bot"])
        settling = settle_at is not None
        decision = self.scenarios.admit(
            tx,
            self.rules.decide(data),
            data,
            row.id,
            now,
            settling=settling,
            settled_phase=False,
        )
        if self.indexes_clicks or row.type != INDEXED_TYPE:
            self.scenarios.observe(tx, data, suspected, settle_at, now)
        routed = Routed(row.id, bot, decision.as_dict(), settle_at)
        deliveries = self._deliveries(row.id, data, decision.matched, now, settling, False)
        counts.click(data, suspected, settle_at)  # last: a click that failed is not counted
        return routed, deliveries

    def settle(self, tx: Tx, now: float) -> Processed:
        """Settled pass for clicks whose window has passed: serves `wait_for_settled` rules."""
        stored = tx.due_settlements(now, self.batch_size)
        if not stored or self.detector is None:
            return Processed(0, 0)
        state = tx.bot_state()
        outbox: list[NewDelivery] = []
        settled: list[Routed] = []
        counts = ReportCounts(now)
        for row in stored:
            try:
                with tx.isolated():
                    verdict, decision, deliveries = self._settle_one(tx, row, state, now, counts)
            except Exception as error:  # a poison event must not block settlement
                log.exception("processor.settle_failed", event_id=row.id)
                settled.append(Routed(row.id, None, {"error": _describe(error)}))
                continue
            outbox += deliveries
            settled.append(Routed(row.id, orjson.dumps(verdict_data(verdict)), decision.as_dict()))
        _flush_counts(tx, counts, stored)
        tx.complete_settlements(settled)
        added = tx.add_deliveries(outbox) if outbox else 0
        return Processed(events=len(stored), deliveries=added)

    def _settle_one(
        self, tx: Tx, row: StoredEvent, state: Any, now: float, counts: ReportCounts
    ) -> tuple[Bot, Decision, list[NewDelivery]]:
        """The settled verdict of one click, and the waiting rules' decision on it."""
        assert self.detector is not None
        verdict = self.detector.settle_by_id(row.id, state)  # the inbox never rewrites
        if verdict is None:
            click = cast(ClickView, decode(row.type, row.payload))
            verdict = self.detector.settle(click, state)
        self._count_bot(verdict)
        if self.indexes_clicks:
            self.scenarios.settled(tx, row.id, verdict.suspected)
        decision, deliveries = self._route_settled(tx, row, verdict_data(verdict), now)
        counts.settled(orjson.loads(row.payload), verdict.suspected)
        return verdict, decision, deliveries

    def _route_settled(
        self, tx: Tx, row: StoredEvent, bot: dict[str, Any], now: float
    ) -> tuple[Decision, list[NewDelivery]]:
        """The `wait_for_settled` rules' decision on the settled verdict, and their deliveries."""
        if not len(self.settled_rules):
            return Decision(), []
        data = orjson.loads(row.payload)
        data["bot"] = bot
        decision = self.scenarios.admit(
            tx,
            self.settled_rules.decide(data),
            data,
            row.id,
            now,
            settling=True,
            settled_phase=True,
        )
        return decision, self._deliveries(row.id, data, decision.matched, now, True, True)

    def _deliveries(
        self,
        event_id: str,
        data: dict[str, Any],
        matched: Iterable[Mapping[str, Any]],
        now: float,
        settling: bool,
        settled_phase: bool,
    ) -> list[NewDelivery]:
        """Outbox rows for the matches this phase serves, one per action."""
        by_action: dict[str, list[str]] = {}
        for match in matched:
            waits = bool(match.get("wait_for_settled")) and settling
            if waits != settled_phase:
                continue
            for action in match["actions"]:
                by_action.setdefault(action, []).append(match["rule"])
        if not by_action:
            return []
        body = orjson.dumps(data)
        if self.metrics is not None:
            for action in by_action:
                self.metrics.routed_to(action).inc()
        return [
            NewDelivery(
                id=delivery_id(event_id, action),
                event_id=event_id,
                action_id=action,
                rule_ids=rules,
                body=body,
                not_before=now,
            )
            for action, rules in by_action.items()
        ]

    def _count_bot(self, verdict: Bot) -> None:
        if self.metrics is not None and verdict.suspected:
            self.metrics.bot_suspected.labels(verdict.phase).inc()


def _flush_counts(tx: Tx, counts: ReportCounts, stored: list[StoredEvent]) -> None:
    """Write the batch's report counts; if the database refuses them, route without them.

    The counts are one write for the whole batch, so a value the database cannot hold would
    otherwise fail every retry of the batch and stop routing for good (a 3 KB report key on
    PostgreSQL did, before `stored_key`). Routing and delivery go on; the reports miss these
    clicks until `connector report rebuild`, and the error says so.
    """
    try:
        with tx.isolated():
            counts.flush(tx)
    except Exception:
        first, last = (stored[0].id, stored[-1].id) if stored else (None, None)
        log.exception("processor.report_counts_failed", first=first, last=last, events=len(stored))
