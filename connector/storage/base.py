"""The storage contract: what the pipeline needs from a database, independent of which one.

The store is an inbox (events, de-duplicated by id), an outbox (one delivery per event and
action) and a little state. Every write happens inside `Store.transaction(fn)`, where `fn`
receives a `Tx` with typed operations; a backend may run several callers' functions in one
shared commit (group commit), but each caller's writes stay all-or-nothing. SQLite is the
embedded implementation; a PostgreSQL one implements the same two protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from connector.bots.state import BotState
from connector.storage.link_records import LinkOps
from connector.storage.report_records import ReportOps
from connector.storage.scenario_records import ScenarioOps
from connector.storage.view_records import ViewOps
from schemas.compiled import CompiledEvent, encode

T = TypeVar("T")


@dataclass(slots=True)
class EventRecord:
    """A normalised event ready to store; times are Unix seconds. Not frozen: a frozen
    dataclass sets each field through `object.__setattr__` (0.69 against 0.13 us), paid
    on every stored event and trigger-link click."""

    id: str
    type: str
    source: str
    provider: str
    occurred_at: float
    received_at: float
    payload: bytes  # the event as JSON
    raw: bytes  # the provider's own item as JSON

    @classmethod
    def of(cls, event: CompiledEvent, received_at: float, raw: bytes = b"{}") -> EventRecord:
        """A compiled event as the inbox stores it: its own JSON, times in Unix seconds."""
        return cls(
            id=event.id,
            type=event.type,
            source=event.source,
            provider=event.provider,
            occurred_at=event.occurred_at.timestamp(),
            received_at=received_at,
            payload=encode(event),
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class RejectedItem:
    index: int  # -1 for a whole request
    reason: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class TaskRecord:
    kind: str
    data: bytes  # JSON


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """Everything one verified webhook request adds, committed together or not at all."""

    source: str
    received_at: float
    events: list[EventRecord]
    rejected: list[RejectedItem] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    nonce: str | None = None
    body_digest: str | None = None


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """`replayed_nonce`: the batch's nonce was already used with another body, so nothing
    was stored (ingest answers that as a signature error; storage raises nothing)."""

    new: list[str]
    duplicates: list[str]
    replayed_nonce: bool = False


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: str
    type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Routed:
    """The outcome of one pass over one event: verdict (or None), decision, when to settle."""

    event_id: str
    bot: bytes | None
    decision: dict[str, Any]
    settle_at: float | None = None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: str
    event_id: str
    action_id: str
    rule_ids: list[str]
    body: bytes  # the event JSON as the action will receive it
    not_before: float


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: str
    event_id: str
    action_id: str
    body: bytes
    attempt: int  # the number of the attempt about to be made (1-based)
    first_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    delivery_id: str
    attempt: int
    at: float
    outcome: str  # delivered | retry | dead
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: float | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: str
    event_id: str
    action_id: str
    rule_ids: list[str]
    status: str
    attempts: int
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    id: int
    kind: str
    data: bytes
    attempts: int


class Tx(ScenarioOps, LinkOps, ReportOps, ViewOps, Protocol):
    """Operations inside one transaction (the scenario engine's are in `ScenarioOps`)."""

    def ingest(self, batch: IngestBatch) -> IngestOutcome: ...
    def pending_events(self, limit: int) -> list[StoredEvent]: ...
    def complete_events(self, routed: list[Routed]) -> None: ...
    def due_settlements(self, now: float, limit: int) -> list[StoredEvent]: ...
    def complete_settlements(self, routed: list[Routed]) -> None: ...
    def add_deliveries(self, deliveries: list[NewDelivery]) -> int: ...
    def claim_deliveries(self, now: float, limit: int, lease: float) -> list[ClaimedDelivery]: ...
    def record_attempts(self, attempts: list[AttemptRecord]) -> None: ...
    def list_deliveries(self, status: str | None, limit: int) -> list[DeliveryRow]: ...
    def replay(self, delivery_ids: list[str] | None, now: float) -> int: ...
    def claim_tasks(self, now: float, limit: int, lease: float) -> list[ClaimedTask]: ...
    def finish_task(self, task_id: int, error: str | None, now: float, retry_at: float) -> None: ...
    def event(self, event_id: str) -> dict[str, Any] | None: ...
    def list_events(
        self,
        *,
        type: str | None = None,
        source: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]: ...
    def prune(self, now: float, retention_seconds: float) -> int: ...
    def counts(self) -> dict[str, int]: ...
    def bot_state(self) -> BotState: ...
    def isolated(self) -> AbstractContextManager[object]:
        """A scope whose failure leaves the transaction usable (the caller goes on with the
        next event). PostgreSQL needs a savepoint for that, since any failed statement
        aborts its whole transaction; SQLite's statements are atomic already, and rolling
        back to a savepoint would put its in-process bot-evidence mirror out of step."""
        ...


class Store(Protocol):
    """A database the service and the CLI share; the sync forms serve command-line tools."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def open_sync(self) -> None: ...
    def close_sync(self) -> None: ...
    async def transaction(self, fn: Callable[[Tx], T], *, durable: bool = True) -> T:
        """Run `fn` in one write transaction. `durable=False`: background bookkeeping that
        may be undone by a power loss (never half) because it is redone or retried."""
        ...

    def transaction_sync(self, fn: Callable[[Tx], T]) -> T: ...
    async def ingest(self, batch: IngestBatch) -> IngestOutcome:
        """`tx.ingest(batch)` in the next group commit; a backend may merge the events of
        concurrent ingests into one statement (PostgreSQL does: one INSERT per commit)."""
        ...

    async def ping(self) -> bool: ...
    async def watch(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever any process commits new events, until cancelled; return at
        once where the backend has no such signal (SQLite: the web process's wake pipe and
        polling serve)."""
        ...
