"""SQL for one PostgreSQL transaction: the `Tx` operations, as `sqlite_tx.py` defines them.

The differences are PostgreSQL's, not the contract's. Claims (`pending_events`,
`due_settlements`, `claim_deliveries`, `claim_tasks`) lock what they return with `FOR UPDATE
SKIP LOCKED`, because here writers run side by side (several writer threads, several
processes): two workers never route, settle or send the same row, and a claim never waits
behind another's. Writes of many rows are one `executemany` (pipelined: one round trip).
"""

# Only module constants (column lists, per-send filters, table names) are formatted into SQL.

from __future__ import annotations

from contextlib import AbstractContextManager
from operator import attrgetter
from typing import Any

import orjson
import psycopg

from connector.storage import postgres_deliveries
from connector.storage.base import (
    AttemptRecord,
    ClaimedDelivery,
    ClaimedTask,
    DeliveryRow,
    EventRecord,
    IngestBatch,
    IngestOutcome,
    NewDelivery,
    Routed,
    StoredEvent,
)
from connector.storage.postgres_bots import PgBotState
from connector.storage.postgres_links import PgLinkSql
from connector.storage.postgres_reports import PgReportSql
from connector.storage.postgres_scenarios import PgScenarioSql
from connector.storage.postgres_views import PgViewSql

_EVENT_FIELDS = "id, type, source, provider, occurred_at, received_at, payload, raw"
_INSERT_EVENT = (
    f"INSERT INTO events ({_EVENT_FIELDS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
# One statement (so one prepared plan) for any number of events; rows keep their order.
# The arrays go in binary (%b): as text, the server's array_in and bytea hex decoding were
# ~14 % of its CPU per webhook (perf, bench/README.md "PostgreSQL and replicas").
_INSERT_EVENTS = (
    f"INSERT INTO events ({_EVENT_FIELDS}) SELECT * FROM unnest(%b::text[], %b::text[],"
    " %b::text[], %b::text[], %b::float8[], %b::float8[], %b::bytea[], %b::bytea[])"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
# The same for events believed new: no conflict handling, so no pre-check of the id index,
# no speculative insertion, no RETURNING rows (~12 % of the server's CPU per event); a stored
# id fails the whole statement (UniqueViolation), and the caller falls back to the above.
_INSERT_NEW_EVENTS = _INSERT_EVENTS.removesuffix(" ON CONFLICT (id) DO NOTHING RETURNING id")
_EVENT_COLUMNS = "payload, raw, decision, processed, settled, bot, seq"
_CLAIM_TASKS = (
    "WITH due AS (SELECT id, next_attempt_at AS due_at FROM tasks"
    " WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE tasks t SET next_attempt_at = %s FROM due WHERE t.id = due.id"
    " RETURNING t.id, t.kind, t.data, t.attempts, due.due_at"
)


_EVENT = attrgetter(
    "id", "type", "source", "provider", "occurred_at", "received_at", "payload", "raw"
)


class PgTx(PgScenarioSql, PgLinkSql, PgReportSql, PgViewSql):
    def __init__(self, conn: psycopg.Connection[Any], bot_ttl_seconds: float | None = None) -> None:
        self.conn = conn
        self.cur = conn.cursor(binary=True)  # bytea and floats arrive without text parsing
        self.bot_ttl_seconds = bot_ttl_seconds

    # inbox -------------------------------------------------------------------------------
    def ingest(self, batch: IngestBatch) -> IngestOutcome:
        if batch.nonce is not None and not self._fresh_nonce(batch):
            return IngestOutcome(new=[], duplicates=[], replayed_nonce=True)
        inserted = self._insert_events(batch.events)
        new: list[str] = []
        duplicates: list[str] = []
        for event in batch.events:  # an id twice in one batch: the second is a duplicate
            if event.id in inserted:
                inserted.discard(event.id)
                new.append(event.id)
            else:
                duplicates.append(event.id)
        if batch.rejected or batch.tasks:
            self._insert_extras(batch)
        return IngestOutcome(new=new, duplicates=duplicates)

    def _insert_extras(self, batch: IngestBatch) -> None:
        """A request's rejected items and control tasks."""
        with self.conn.pipeline():
            self.cur.executemany(
                "INSERT INTO rejections (source, received_at, item_index, reason, raw)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (batch.source, batch.received_at, r.index, r.reason, r.raw)
                    for r in batch.rejected
                ],
            )
            self.cur.executemany(
                "INSERT INTO tasks (kind, data, next_attempt_at) VALUES (%s, %s, %s)",
                [(task.kind, task.data, batch.received_at) for task in batch.tasks],
            )

    def ingest_many(self, batches: list[IngestBatch]) -> list[IngestOutcome]:
        """Several ingests (without nonces) with one INSERT for all their events; each gets
        the outcome `ingest` would give it, in order (an id twice: the first is new)."""
        inserted = self._insert_events([event for batch in batches for event in batch.events])
        outcomes = []
        for batch in batches:
            new: list[str] = []
            duplicates: list[str] = []
            for event in batch.events:
                if event.id in inserted:
                    inserted.discard(event.id)
                    new.append(event.id)
                else:
                    duplicates.append(event.id)
            if batch.rejected or batch.tasks:
                self._insert_extras(batch)
            outcomes.append(IngestOutcome(new=new, duplicates=duplicates))
        return outcomes

    def ingest_new(self, batches: list[IngestBatch]) -> list[IngestOutcome] | None:
        """Plain ingests (events only) whose events are all new, in one INSERT without
        conflict handling: every event is new. None, with nothing done, when an id repeats
        among them; an id stored already raises `UniqueViolation`, which aborts the
        statement: use it only where that leaves nothing behind (autocommit)."""
        events = [event for batch in batches for event in batch.events]
        if len({event.id for event in events}) != len(events):
            return None
        if events:
            self.cur.execute(_INSERT_NEW_EVENTS, _columns(events))
        return [IngestOutcome(new=[e.id for e in batch.events], duplicates=[]) for batch in batches]

    def _insert_events(self, events: list[EventRecord]) -> set[str]:
        """The ids actually inserted (the others were stored already)."""
        if not events:
            return set()
        if len(events) == 1:
            rows = self.cur.execute(_INSERT_EVENT, _EVENT(events[0])).fetchall()
            return {r[0] for r in rows}
        return {r[0] for r in self.cur.execute(_INSERT_EVENTS, _columns(events)).fetchall()}

    def _fresh_nonce(self, batch: IngestBatch) -> bool:
        """Record the nonce; False when it was already used with another body.

        The INSERT waits for a concurrent transaction holding the same nonce, so of two
        requests racing with one nonce and different bodies, exactly one is fresh.
        """
        digest = batch.body_digest or ""
        added = self.cur.execute(
            "INSERT INTO nonces (source, nonce, body_digest, seen_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (batch.source, batch.nonce, digest, batch.received_at),
        ).fetchone()
        if added is not None:
            return True
        row = self.cur.execute(
            "SELECT body_digest FROM nonces WHERE source = %s AND nonce = %s",
            (batch.source, batch.nonce),
        ).fetchone()
        return row is None or bool(row[0] == digest)

    def pending_events(self, limit: int) -> list[StoredEvent]:
        rows = self.cur.execute(
            "SELECT id, type, payload FROM events WHERE processed = 0 ORDER BY seq LIMIT %s"
            " FOR UPDATE SKIP LOCKED",
            (limit,),
        ).fetchall()
        return [StoredEvent(id=r[0], type=r[1], payload=r[2]) for r in rows]

    def complete_events(self, routed: list[Routed]) -> None:
        """Record immediate passes: the verdict (its own column), decision, settle time."""
        self.cur.executemany(
            "UPDATE events SET processed = 1, bot = %s, decision = %s, settle_at = %s,"
            " settled = %s WHERE id = %s",
            [
                (
                    r.bot,
                    _json({"immediate": r.decision}),
                    r.settle_at,
                    int(r.settle_at is None),
                    r.event_id,
                )
                for r in routed
            ],
        )

    def due_settlements(self, now: float, limit: int) -> list[StoredEvent]:
        rows = self.cur.execute(
            "SELECT id, type, payload FROM events WHERE settled = 0 AND settle_at IS NOT NULL"
            " AND processed = 1 AND settle_at <= %s ORDER BY settle_at LIMIT %s"
            " FOR UPDATE SKIP LOCKED",
            (now, limit),
        ).fetchall()
        return [StoredEvent(id=r[0], type=r[1], payload=r[2]) for r in rows]

    def complete_settlements(self, routed: list[Routed]) -> None:
        """Record settled passes beside the immediate decision (`decision.settled`); the
        decision is rewritten in Python so its keys keep their order (SQLite's json_set)."""
        if not routed:
            return
        stored = dict(
            self.cur.execute(
                "SELECT id, decision FROM events WHERE id = ANY(%s) FOR UPDATE",
                ([r.event_id for r in routed],),
            ).fetchall()
        )
        rows = []
        for r in routed:
            decision = orjson.loads(stored.get(r.event_id) or "{}")
            decision["settled"] = r.decision
            rows.append((r.bot, _json(decision), r.event_id))
        self.cur.executemany(
            "UPDATE events SET settled = 1, bot = COALESCE(%s, bot), decision = %s WHERE id = %s",
            rows,
        )

    def event(self, event_id: str) -> dict[str, Any] | None:
        row = self.cur.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = %s", (event_id,)
        ).fetchone()
        return None if row is None else _stored_event(row)

    def list_events(
        self,
        *,
        type: str | None = None,
        source: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Newest first, with verdicts and decisions; `before` pages by `seq`."""
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE TRUE"
        params: tuple[Any, ...] = ()
        for column, value in (("type", type), ("source", source)):
            if value is not None:
                query += f" AND {column} = %s"
                params += (value,)
        if before is not None:
            query += " AND seq < %s"
            params += (before,)
        rows = self.cur.execute(query + " ORDER BY seq DESC LIMIT %s", (*params, limit))
        return [_stored_event(row) for row in rows.fetchall()]

    # outbox ------------------------------------------------------------------------------
    def add_deliveries(self, deliveries: list[NewDelivery]) -> int:
        return postgres_deliveries.add_deliveries(self.cur, deliveries)

    def claim_deliveries(self, now: float, limit: int, lease: float) -> list[ClaimedDelivery]:
        return postgres_deliveries.claim_deliveries(self.cur, now, limit, lease)

    def record_attempts(self, attempts: list[AttemptRecord]) -> None:
        postgres_deliveries.record_attempts(self.conn, self.cur, attempts)

    def list_deliveries(self, status: str | None, limit: int) -> list[DeliveryRow]:
        query = (
            "SELECT id, event_id, action_id, rule_ids, status, attempts, next_attempt_at,"
            " last_status, last_error, created_at, updated_at FROM deliveries"
        )
        params: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = %s"
            params = (status,)
        rows = self.cur.execute(query + " ORDER BY updated_at DESC LIMIT %s", (*params, limit))
        return [DeliveryRow(r[0], r[1], r[2], orjson.loads(r[3]), *r[4:]) for r in rows.fetchall()]

    def replay(self, delivery_ids: list[str] | None, now: float) -> int:
        """Queue dead (or given) deliveries again with a fresh retry budget."""
        reset = (
            "UPDATE deliveries SET status = 'pending', next_attempt_at = %s, lease_until = NULL,"
            " first_attempt_at = NULL, updated_at = %s"
        )
        if delivery_ids is None:
            return self.cur.execute(reset + " WHERE status = 'dead'", (now, now)).rowcount
        where = " WHERE id = ANY(%s) AND status != 'pending'"
        return self.cur.execute(reset + where, (now, now, delivery_ids)).rowcount

    # control tasks -----------------------------------------------------------------------
    def claim_tasks(self, now: float, limit: int, lease: float) -> list[ClaimedTask]:
        rows = self.cur.execute(_CLAIM_TASKS, (now, limit, now + lease)).fetchall()
        rows.sort(key=lambda r: r[4])
        return [ClaimedTask(id=r[0], kind=r[1], data=r[2], attempts=r[3]) for r in rows]

    def finish_task(self, task_id: int, error: str | None, now: float, retry_at: float) -> None:
        if error is None:
            self.cur.execute(
                "UPDATE tasks SET status = 'done', last_error = NULL WHERE id = %s", (task_id,)
            )
            return
        self.cur.execute(
            "UPDATE tasks SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s,"
            " status = CASE WHEN attempts + 1 >= 20 THEN 'failed' ELSE 'pending' END"
            " WHERE id = %s",
            (error, retry_at, task_id),
        )

    # housekeeping ------------------------------------------------------------------------
    def prune(self, now: float, retention_seconds: float) -> int:
        """Forget what is older than retention, never an event that still has work pending."""
        cutoff = now - retention_seconds
        removed = self.cur.execute(
            "DELETE FROM events WHERE received_at < %s AND processed = 1 AND settled = 1"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id"
            " AND d.status = 'pending')",
            (cutoff,),
        ).rowcount
        for statement, params in (
            ("DELETE FROM nonces WHERE seen_at < %s", (cutoff,)),
            ("DELETE FROM rejections WHERE received_at < %s", (cutoff,)),
            (
                "DELETE FROM attempts WHERE at < %s AND delivery_id IN (SELECT id FROM deliveries"
                " WHERE status != 'pending' AND updated_at < %s)",
                (cutoff, cutoff),
            ),
            ("DELETE FROM deliveries WHERE status = 'delivered' AND updated_at < %s", (cutoff,)),
            ("DELETE FROM tasks WHERE status != 'pending' AND next_attempt_at < %s", (cutoff,)),
        ):
            self.cur.execute(statement, params)
        self.prune_scenarios(cutoff)
        self.bot_state().prune(now)  # the detector's evidence has its own, shorter TTL
        return removed

    def isolated(self) -> AbstractContextManager[object]:
        """A savepoint: a failed statement inside undoes only this scope (Tx.isolated)."""
        return self.conn.transaction()

    def bot_state(self) -> PgBotState:
        if self.bot_ttl_seconds is None:
            return PgBotState(self.cur)
        return PgBotState(self.cur, ttl_seconds=self.bot_ttl_seconds)

    def counts(self) -> dict[str, int]:
        rows = self.cur.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return {status: int(count) for status, count in rows.fetchall()}


def _columns(events: list[EventRecord]) -> list[list[Any]]:
    """The events as the unnest INSERTs' eight arrays."""
    columns = [list(column) for column in zip(*map(_EVENT, events), strict=True)]
    for times in columns[4:6]:  # one type per array: an int among floats would not dump
        times[:] = map(float, times)
    return columns


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _stored_event(row: Any) -> dict[str, Any]:
    """An event as stored: its payload with the verdict in place, the decision, progress."""
    event = _json_or_text(row[0])
    if row[5] is not None and isinstance(event, dict):
        event["bot"] = orjson.loads(row[5])
    return {
        "seq": row[6],
        "event": event,
        "raw": _json_or_text(row[1]),
        "decision": orjson.loads(row[2]) if row[2] else None,
        "processed": bool(row[3]),
        "settled": bool(row[4]),
    }


def _json_or_text(data: bytes) -> Any:
    """Stored JSON, or its text where it is not JSON (so a poison event can be inspected)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return bytes(data).decode("utf-8", errors="replace")
