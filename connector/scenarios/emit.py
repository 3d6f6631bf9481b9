"""The events a timer emits: `email.not_clicked`, `email.click_timeout`, and the copy of a
click a `clicked_by` check delivers at its time.

They go into the inbox like any webhook's events (the processor then routes each to the
rule that produced it), with ids derived from the timer and the recipient, so emitting them
again after a crash stores nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from connector.scenarios.keys import SCENARIO_PROVIDER, SCENARIO_SOURCE, scheduled_event_id
from connector.storage.base import EventRecord
from connector.storage.scenario_records import TimerRow
from schemas.compiled import build_event

_ENVELOPE_KEYS = ("recipient", "message", "metadata", "test")


def envelope(data: dict[str, Any]) -> bytes:
    """What events about this recipient reuse from the delivery (or registration)."""
    kept = {key: data[key] for key in _ENVELOPE_KEYS if key in data}
    kept["source"] = data.get("source") or SCENARIO_SOURCE
    kept["provider"] = data.get("provider") or SCENARIO_PROVIDER
    return orjson.dumps(kept)


def scenario_block(timer: TimerRow, trigger: str) -> dict[str, Any]:
    send = timer.send
    return {
        "rule": timer.rule_id,
        "trigger": trigger,
        "check": timer.id,
        "send": {
            "message_id": send.id if send.kind == "message" else None,
            "campaign_id": send.id if send.kind == "campaign" else None,
        },
        "due_at": _utc(timer.due_at),
        "started_at": _utc(timer.started_at) if timer.started_at is not None else None,
    }


def scheduled_event(
    kind: str, timer: TimerRow, recipient: str, who: bytes, now: float
) -> EventRecord:
    """An `email.not_clicked` or `email.click_timeout` for one recipient of a timer."""
    data = orjson.loads(who)
    event_id, provider_event_id = scheduled_event_id(timer.id, recipient)
    trigger = "wait" if kind == "email.click_timeout" else "not_clicked"
    fields = {
        **{key: data[key] for key in _ENVELOPE_KEYS if key in data},
        "id": event_id,
        "type": kind,
        "occurred_at": _utc(timer.due_at),
        "received_at": _utc(now),
        "provider": data.get("provider") or SCENARIO_PROVIDER,
        "source": data.get("source") or SCENARIO_SOURCE,
        "provider_event_id": provider_event_id,
        "scenario": scenario_block(timer, trigger),
    }
    return EventRecord.of(build_event(kind, fields), now)


def clicked_copy(
    timer: TimerRow,
    recipient: str,
    payload: bytes,
    bot: bytes | None,
    now: float,
    trigger: str = "clicked_by",
) -> EventRecord:
    """The recipient's first qualifying click, as a `clicked_by` check delivers it (or a
    wait whose click came before its delivery)."""
    data = orjson.loads(payload)
    event_id, provider_event_id = scheduled_event_id(timer.id, recipient)
    if bot is not None:
        data["bot"] = orjson.loads(bot)
    data.update(
        id=event_id,
        provider_event_id=provider_event_id,
        received_at=_utc(now),
        scenario=scenario_block(timer, trigger),
    )
    return EventRecord.of(build_event("email.clicked", data), now)


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
