"""What the scenario engine stores: recipients of sends, a narrow index of clicks, timers and
re-entry marks. Plain records, so every backend maps them the same way.

A *send* is what a scenario points at: `("message", id)`, `("campaign", id)`, or
`("all", "")` for every send. A *recipient key* is the lower-cased address, or the ESP's
person id where there is no address, the same for deliveries and clicks. Records keep
their keys bounded (`scenario_keys.py`) so an ESP id of kilobytes fits an index row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from connector.storage.scenario_keys import MAX_KEY, scenario_key

SendKind = Literal["message", "campaign", "all"]
TimerKind = Literal["clicked_by", "not_clicked", "wait"]
TimerStatus = Literal["pending", "done", "cancelled", "clicked", "timed_out", "failed"]


@dataclass(frozen=True, slots=True)
class SendKey:
    kind: SendKind
    id: str = ""

    def label(self) -> str:
        return "all sends" if self.kind == "all" else f"{self.kind} {self.id}"


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    """One person a message went to; `data` is the JSON envelope events about them reuse."""

    recipient: str
    message_id: str
    campaign_id: str
    status: str  # delivered | sent | registered
    at: float
    test: bool
    data: bytes

    def __post_init__(self) -> None:
        if max(len(self.recipient), len(self.message_id), len(self.campaign_id)) > MAX_KEY:
            _bound(self, "recipient", "message_id", "campaign_id")


@dataclass(frozen=True, slots=True)
class ClickRecord:
    """A click as scenarios read it: who, which send, which link, whether a person."""

    event_id: str
    recipient: str
    message_id: str
    campaign_id: str
    canonical: str  # "" for a link that is not http(s)
    system: bool  # unsubscribe, preferences, view-in-browser...
    test: bool
    occurred_at: float
    suspected: bool
    settled: bool
    settle_at: float | None

    def __post_init__(self) -> None:
        if max(len(self.recipient), len(self.message_id), len(self.campaign_id)) > MAX_KEY:
            _bound(self, "recipient", "message_id", "campaign_id")


@dataclass(frozen=True, slots=True)
class IndexedClick:
    """A stored click read back for a check (the fields the link and person tests need)."""

    event_id: str
    recipient: str
    canonical: str
    system: bool
    test: bool
    occurred_at: float
    suspected: bool
    settled: bool
    settle_at: float | None


@dataclass(frozen=True, slots=True)
class TimerRecord:
    """A check or a wait. `recipient` None: every recipient of `send` (a streamed check)."""

    id: str
    rule_id: str
    kind: TimerKind
    send: SendKey
    recipient: str | None
    due_at: float
    origin: str  # config | api | delivery
    created_at: float
    data: bytes = b"{}"  # JSON: who and where, for per-recipient timers
    started_at: float | None = None

    def __post_init__(self) -> None:
        """The id was derived from the full keys (stable across this change); the stored
        send and recipient are bounded."""
        object.__setattr__(self, "send", SendKey(self.send.kind, scenario_key(self.send.id)))
        if self.recipient is not None:
            _bound(self, "recipient")


@dataclass(frozen=True, slots=True)
class TimerRow:
    """A stored timer with its progress."""

    id: str
    rule_id: str
    kind: TimerKind
    send: SendKey
    recipient: str | None
    due_at: float
    status: TimerStatus
    origin: str
    created_at: float
    fired_at: float | None
    cursor: str | None
    emitted: int
    data: bytes
    started_at: float | None


def _bound(record: object, *fields: str) -> None:
    """Keys over `MAX_KEY` bounded in place; short ones (nearly all) cost a length test."""
    for name in fields:
        value = getattr(record, name)
        if len(value) > MAX_KEY:
            object.__setattr__(record, name, scenario_key(value))


def send_params(send: SendKey) -> tuple[str, ...]:
    """The query parameters of a send filter (none for every send), its id bounded."""
    return () if send.kind == "all" else (scenario_key(send.id),)


def wait_sends(message_id: str, campaign_id: str) -> tuple[str, str]:
    """The sends a click's wait may be under (its message, its campaign), bounded."""
    return scenario_key(message_id), scenario_key(campaign_id)


class ScenarioOps(Protocol):
    """The scenario operations every backend's transaction offers (part of `Tx`)."""

    def record_recipients(self, rows: list[RecipientRecord]) -> None: ...
    def send_recipients(
        self, send: SendKey, after: str, limit: int, statuses: tuple[str, ...]
    ) -> list[RecipientRecord]: ...
    def recipient_record(self, message_id: str, recipient: str) -> RecipientRecord | None: ...
    def record_clicks(self, rows: list[ClickRecord]) -> None: ...
    def settle_clicks(self, verdicts: list[tuple[str, bool]]) -> None: ...
    def open_click_index_gap(self, now: float) -> None:
        """Clicks may go unindexed from `now` (no check rule reads them); an open gap stays."""
        ...

    def click_index_gap(self) -> float | None:
        """When the click index began to lack clicks; None when it lacks none."""
        ...

    def close_click_index_gap(self) -> None: ...
    def send_clicks(
        self, send: SendKey, first: str, last: str, before: float
    ) -> list[IndexedClick]: ...
    def clicked_recipients(
        self, send: SendKey, after: str, limit: int, before: float
    ) -> list[str]: ...
    def unsettled_until(
        self, send: SendKey, recipient: str | None, before: float
    ) -> float | None: ...
    def click_payload(self, event_id: str) -> tuple[bytes, bytes | None] | None: ...
    def add_timers(self, timers: list[TimerRecord]) -> int: ...
    def claim_timers(self, now: float, limit: int) -> list[TimerRow]:
        """Due timers, held by this transaction until it ends (no other may claim them)."""
        ...

    def next_timer_due(self) -> float | None: ...
    def advance_timer(self, timer_id: str, cursor: str, emitted: int) -> None: ...
    def defer_timer(self, timer_id: str, due_at: float) -> None: ...
    def finish_timer(self, timer_id: str, status: str, now: float, emitted: int = 0) -> None: ...
    def resolve_wait(
        self,
        rule_id: str,
        recipient: str,
        message_id: str,
        clicked_at: float,
        now: float,
        campaign_id: str = "",
    ) -> str | None:
        """Close the wait this click answers: its message's, else its campaign's (a wait
        started for recipients registered by campaign)."""
        ...

    def cancel_timers(self, timer_ids: list[str], now: float) -> int: ...
    def cancel_stale_config_timers(self, rule_id: str, keep: list[str], now: float) -> int: ...
    def timers(
        self, *, send: SendKey | None = None, status: str | None = None, limit: int = 100
    ) -> list[TimerRow]: ...
    def timer(self, timer_id: str) -> TimerRow | None: ...
    def send_known(self, send: SendKey) -> bool: ...
    def entry_holder(
        self, key: str, event_id: str, now: float, window: float | None
    ) -> tuple[str, str, float] | None: ...
    def record_entry(self, key: str, rule_id: str, event_id: str, now: float) -> None: ...
