"""The scenario engine's click index, written only where a check can read it.

Only check rules (`clicked_by`, `not_clicked`: `RuleSettings.scheduled`) read the click
index (who clicked a send, and when their verdicts settle). Without one the processor
leaves it alone: an immediate pass then writes ~8 KB less an event, five B-trees of which
one is keyed by a hashed id, and a settled pass one UPDATE less (bench/README.md, "Default
layout, session 9"). So that a check rule configured later still sees every click, a
routing pass that may skip clicks opens a gap (`Tx.open_click_index_gap`, in the same
transaction), and the first worker with a check rule fills the index from the stored
events, a page per transaction, before any check fires, then closes the gap.
"""

from __future__ import annotations

from typing import Any

import orjson

from connector.scenarios.engine import ScenarioEngine
from connector.storage.base import Tx
from connector.storage.report_records import ReportEvent

# The event type `ScenarioEngine.observe` indexes (it records recipients of the others).
INDEXED_TYPE = "email.clicked"
FILL_PAGE = 500  # stored events per transaction while filling
_EVERY_SEQ = 2**62


def reads_clicks(engine: ScenarioEngine) -> bool:
    """Whether any rule of the engine reads the click index (a check rule)."""
    return any(rule.scheduled for rule in engine.rules.values())


def fill_page(
    tx: Tx, engine: ScenarioEngine, after: int, now: float, page: int = FILL_PAGE
) -> int | None:
    """Index the routed clicks stored after `after` (a seq) while a gap is open: the seq to
    go on from, or None once the index is whole (the gap closes in the same transaction).
    Clicks indexed already are left as they are (the index ignores a repeat)."""
    if tx.click_index_gap() is None:
        return None
    rows = tx.report_events(after, _EVERY_SEQ, page)
    for row in rows:
        _index(tx, engine, row, now)
    if len(rows) < page:
        tx.close_click_index_gap()
        return None
    return rows[-1].seq


def _index(tx: Tx, engine: ScenarioEngine, row: ReportEvent, now: float) -> None:
    """One click as routing would have indexed it, at its stored verdict (the settled one
    once settled); a click whose routing failed indexed nothing."""
    if _failed(_json(row.decision).get("immediate")):
        return
    data = orjson.loads(row.payload)
    if data.get("type") != INDEXED_TYPE:
        return
    suspected = bool(_json(row.bot).get("suspected"))
    engine.observe(tx, data, suspected, row.settle_at, now)
    if row.settled and row.settle_at is not None:
        engine.settled(tx, str(data["id"]), suspected)


def _json(value: bytes | str | None) -> dict[str, Any]:
    found = orjson.loads(value) if value else {}
    return found if isinstance(found, dict) else {}


def _failed(decision: Any) -> bool:
    return isinstance(decision, dict) and "error" in decision
