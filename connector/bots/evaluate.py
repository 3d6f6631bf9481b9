"""Replay normalised events through the service's detector, both passes, in arrival order.

Used by `connector bots evaluate` and bench/bots/evaluate_corpus.py. Events are taken in
(received_at, occurred_at, file order); before each event, every click whose settle time has
come is settled, exactly as the service's scheduler would, and the rest are settled at the
end. Input lines are events in our schema; other event types are skipped and counted.

Corpora come from elsewhere too (a labelled set, an export from another tool), so only what
the detector needs is required: `type`, a time and, for clicks, `link.url`. Missing envelope
fields get neutral values (`id` from the line number, either of `occurred_at` and
`received_at` from the other, `provider_event_id` from `id`); numbers where we keep text
(ids) are read as text; keys our schema does not define (labels such as `label` and `kind`,
truth columns, enrichment) are set aside and listed in `Replay.ignored`; and an input `bot`
block is dropped: the verdict is what we compute. `strict=False` sets bad lines aside
(`Replay.invalid`) instead of failing on the first.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from pydantic import BaseModel, ValidationError

from connector.bots.detector import Detector
from connector.bots.keys import epoch_seconds
from connector.bots.state import BotState, MemoryState
from connector.errors import MalformedPayload
from schemas.events import Bot, EmailClicked, EmailDelivered
from schemas.views import ClickView

PRUNE_EVERY = 1000
_ENVELOPE_DEFAULTS = {"provider": "unknown", "source": "evaluate"}
_TEXT = (str, str | None)


@dataclass
class Replay:
    events: list[EmailClicked | EmailDelivered] = field(default_factory=list)
    skipped: int = 0
    ignored: set[str] = field(default_factory=set)  # dotted paths of keys set aside
    invalid: list[str] = field(default_factory=list)  # why each bad line was set aside
    immediate: dict[str, Bot] = field(default_factory=dict)
    settled: dict[str, Bot] = field(default_factory=dict)


def read_events(lines: Iterable[str | bytes], *, strict: bool = True) -> Replay:
    """Parse JSON lines into events. A bad line raises MalformedPayload naming it, or, with
    `strict=False`, is set aside in `Replay.invalid` and the rest is read."""
    replay = Replay()
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = _event(number, line, replay)
        except MalformedPayload as error:
            if strict:
                raise
            replay.invalid.append(error.message)
            continue
        if event is None or event.id in seen:
            continue  # another type; or an id already read (the service stores it once)
        seen.add(event.id)
        replay.events.append(event)
    return replay


# The detector reads clicks and deliveries; any other type is skipped and counted.
_DETECTOR_MODELS: dict[str, type[EmailClicked] | type[EmailDelivered]] = {
    "email.clicked": EmailClicked,
    "email.delivered": EmailDelivered,
}


def _event(number: int, line: str | bytes, replay: Replay) -> EmailClicked | EmailDelivered | None:
    """One line's event; None for other types (counted in `replay.skipped`)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise MalformedPayload(f"line {number}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise MalformedPayload(f"line {number}: not a JSON object")
    model = _DETECTOR_MODELS.get(data.get("type", ""))
    if model is None:
        replay.skipped += 1
        return None
    data.pop("bot", None)
    data = _known_fields(model, data, "", replay.ignored)
    data.setdefault("id", f"line-{number}")
    if "occurred_at" not in data and "received_at" in data:
        data["occurred_at"] = data["received_at"]
    data.setdefault("received_at", data.get("occurred_at"))
    data.setdefault("provider_event_id", data["id"])
    for key, value in _ENVELOPE_DEFAULTS.items():
        data.setdefault(key, value)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MalformedPayload(f"line {number}: {where}: {first['msg']}") from None


def _known_fields(
    model: type[BaseModel], data: dict[str, Any], prefix: str, ignored: set[str]
) -> dict[str, Any]:
    """`data` without the keys `model` does not define, nested models included; the
    dropped keys' dotted paths go to `ignored`. Free-form dicts (`metadata`) are kept whole."""
    fields = model.model_fields
    kept: dict[str, Any] = {}
    for key, value in data.items():
        spec = fields.get(key)
        if spec is None:
            ignored.add(prefix + key)
            continue
        nested = spec.annotation
        if isinstance(value, dict) and isinstance(nested, type) and issubclass(nested, BaseModel):
            value = _known_fields(nested, value, f"{prefix}{key}.", ignored)
        elif nested in _TEXT and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # numeric ids (`"message": {"id": 123}`) are common elsewhere
        kept[key] = value
    return kept


def run(
    replay: Replay,
    detector: Detector,
    state: BotState | None = None,
    advance: Callable[[int], None] | None = None,
) -> Replay:
    """Observe every event in arrival order and settle every click; fills the verdicts.
    `advance(n)` is told as events are observed (a progress bar)."""
    state = state if state is not None else MemoryState(detector.settings.state_ttl_seconds)
    order = sorted(
        range(len(replay.events)),
        key=lambda i: (
            epoch_seconds(replay.events[i].received_at),
            epoch_seconds(replay.events[i].occurred_at),
            i,
        ),
    )
    pending: list[tuple[float, int, ClickView]] = []
    for count, index in enumerate(order, start=1):
        if advance is not None and count % 1000 == 0:
            advance(1000)
        event = replay.events[index]
        now = epoch_seconds(event.received_at)
        while pending and pending[0][0] <= now:
            _, _, click = heapq.heappop(pending)
            replay.settled[click.id] = detector.settle(click, state)
        verdict = detector.observe(event, state)
        if verdict is not None:  # a click
            replay.immediate[event.id] = verdict
            click = cast(ClickView, event)
            heapq.heappush(pending, (epoch_seconds(detector.settle_at(click)), index, click))
        if count % PRUNE_EVERY == 0:
            state.prune(now)
    while pending:
        _, _, click = heapq.heappop(pending)
        replay.settled[click.id] = detector.settle(click, state)
    return replay


def output_rows(replay: Replay, with_immediate: bool = False) -> list[dict[str, Any]]:
    """One row per click in input order: the settled verdict (and optionally the immediate)."""
    rows = []
    for event in replay.events:
        if not isinstance(event, EmailClicked):
            continue
        bot = replay.settled[event.id]
        row: dict[str, Any] = {
            "id": event.id,
            "suspected": bot.suspected,
            "score": bot.score,
            "band": bot.band,
            "reasons": [reason.model_dump() for reason in bot.reasons],
        }
        if with_immediate:
            first = replay.immediate[event.id]
            row["immediate"] = {
                "suspected": first.suspected,
                "score": first.score,
                "band": first.band,
            }
        rows.append(row)
    return rows
