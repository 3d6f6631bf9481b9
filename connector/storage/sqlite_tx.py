"""SQL for one SQLite transaction: the `Tx` operations the pipeline uses."""

from __future__ import annotations

import contextlib
import sqlite3
from contextlib import AbstractContextManager
from typing import Any

import orjson

from connector.storage import sqlite_deliveries
from connector.storage.base import (
    AttemptRecord,
    ClaimedDelivery,
    ClaimedTask,
    DeliveryRow,
    IngestBatch,
    IngestOutcome,
    NewDelivery,
    Routed,
    StoredEvent,
)
from connector.storage.sqlite_bots import SqliteState
from connector.storage.sqlite_links import LinkSql
from connector.storage.sqlite_reports import ReportSql
from connector.storage.sqlite_scenarios import ScenarioSql
from connector.storage.sqlite_timers import TimerSql
from connector.storage.sqlite_views import ViewSql


class SqliteTx(ScenarioSql, TimerSql, LinkSql, ReportSql, ViewSql):
    def __init__(self, conn: sqlite3.Connection, bot_ttl_seconds: float | None = None) -> None:
        self.conn = conn
        self.bot_ttl_seconds = bot_ttl_seconds

    # inbox -------------------------------------------------------------------------------
    def ingest(self, batch: IngestBatch) -> IngestOutcome:
        if batch.nonce is not None and not self._fresh_nonce(batch):
            return IngestOutcome(new=[], duplicates=[], replayed_nonce=True)
        new: list[str] = []
        duplicates: list[str] = []
        for event in batch.events:
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO events (id, type, source, provider, occurred_at,"
                " received_at, payload, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.id,
                    event.type,
                    event.source,
                    event.provider,
                    event.occurred_at,
                    event.received_at,
                    event.payload,
                    event.raw,
                ),
            )
            (new if cursor.rowcount == 1 else duplicates).append(event.id)
        if batch.rejected:
            self.conn.executemany(
                "INSERT INTO rejections (source, received_at, item_index, reason, raw)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (batch.source, batch.received_at, r.index, r.reason, r.raw)
                    for r in batch.rejected
                ],
            )
        if batch.tasks:
            self.conn.executemany(
                "INSERT INTO tasks (kind, data, next_attempt_at) VALUES (?, ?, ?)",
                [(task.kind, task.data, batch.received_at) for task in batch.tasks],
            )
        return IngestOutcome(new=new, duplicates=duplicates)

    def _fresh_nonce(self, batch: IngestBatch) -> bool:
        """Record the nonce; False when it was already used with another body."""
        row = self.conn.execute(
            "SELECT body_digest FROM nonces WHERE source = ? AND nonce = ?",
            (batch.source, batch.nonce),
        ).fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO nonces (source, nonce, body_digest, seen_at) VALUES (?, ?, ?, ?)",
                (batch.source, batch.nonce, batch.body_digest or "", batch.received_at),
            )
            return True
        return bool(row[0] == (batch.body_digest or ""))

    def pending_events(self, limit: int) -> list[StoredEvent]:
        rows = self.conn.execute(
            "SELECT id, type, payload FROM events WHERE processed = 0 ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [StoredEvent(id=r[0], type=r[1], payload=r[2]) for r in rows]

    def complete_events(self, routed: list[Routed]) -> None:
        """Record immediate passes: the verdict (its own column), decision, settle time."""
        self.conn.executemany(
            "UPDATE events SET processed = 1, bot = ?, decision = ?, settle_at = ?,"
            " settled = ? WHERE id = ?",
            [
                (
                    r.bot,
                    orjson.dumps({"immediate": r.decision}),
                    r.settle_at,
                    r.settle_at is None,
                    r.event_id,
                )
                for r in routed
            ],
        )

    def due_settlements(self, now: float, limit: int) -> list[StoredEvent]:
        rows = self.conn.execute(
            "SELECT id, type, payload FROM events WHERE settled = 0 AND settle_at IS NOT NULL"
            " AND processed = 1 AND settle_at <= ? ORDER BY settle_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [StoredEvent(id=r[0], type=r[1], payload=r[2]) for r in rows]

    def complete_settlements(self, routed: list[Routed]) -> None:
        """Record settled passes beside the immediate decision (`decision.settled`)."""
        self.conn.executemany(
            # CAST: from SQLite 3.45 a BLOB given to a JSON function is read as binary JSONB
            "UPDATE events SET settled = 1, bot = COALESCE(?, bot), decision = json_set("
            "COALESCE(CAST(decision AS TEXT), '{}'), '$.settled', json(CAST(? AS TEXT)))"
            " WHERE id = ?",
            [(r.bot, orjson.dumps(r.decision), r.event_id) for r in routed],
        )

    def event(self, event_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)
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
        query = f"SELECT {_EVENT_COLUMNS} FROM events WHERE 1 = 1"
        params: tuple[Any, ...] = ()
        for column, value in (("type", type), ("source", source)):
            if value is not None:
                query += f" AND {column} = ?"
                params += (value,)
        if before is not None:
            query += " AND seq < ?"
            params += (before,)
        rows = self.conn.execute(query + " ORDER BY seq DESC LIMIT ?", (*params, limit))
        return [_stored_event(row) for row in rows.fetchall()]

    # outbox ------------------------------------------------------------------------------
    def add_deliveries(self, deliveries: list[NewDelivery]) -> int:
        return sqlite_deliveries.add_deliveries(self.conn, deliveries)

    def claim_deliveries(self, now: float, limit: int, lease: float) -> list[ClaimedDelivery]:
        return sqlite_deliveries.claim_deliveries(self.conn, now, limit, lease)

    def record_attempts(self, attempts: list[AttemptRecord]) -> None:
        sqlite_deliveries.record_attempts(self.conn, attempts)

    def list_deliveries(self, status: str | None, limit: int) -> list[DeliveryRow]:
        query = (
            "SELECT id, event_id, action_id, rule_ids, status, attempts, next_attempt_at,"
            " last_status, last_error, created_at, updated_at FROM deliveries"
        )
        params: tuple[Any, ...] = ()
        if status:
            query += " WHERE status = ?"
            params = (status,)
        rows = self.conn.execute(query + " ORDER BY updated_at DESC LIMIT ?", (*params, limit))
        return [
            DeliveryRow(
                id=r[0],
                event_id=r[1],
                action_id=r[2],
                rule_ids=orjson.loads(r[3]),
                status=r[4],
                attempts=r[5],
                next_attempt_at=r[6],
                last_status=r[7],
                last_error=r[8],
                created_at=r[9],
                updated_at=r[10],
            )
            for r in rows.fetchall()
        ]

    def replay(self, delivery_ids: list[str] | None, now: float) -> int:
        """Queue dead (or given) deliveries again with a fresh retry budget."""
        reset = (
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL,"
            " first_attempt_at = NULL, updated_at = ?"
        )
        if delivery_ids is None:
            cursor = self.conn.execute(reset + " WHERE status = 'dead'", (now, now))
            return cursor.rowcount
        changed = 0
        for delivery_id in delivery_ids:
            changed += self.conn.execute(
                reset + " WHERE id = ? AND status != 'pending'", (now, now, delivery_id)
            ).rowcount
        return changed

    # control tasks -----------------------------------------------------------------------
    def claim_tasks(self, now: float, limit: int, lease: float) -> list[ClaimedTask]:
        rows = self.conn.execute(
            "SELECT id, kind, data, attempts FROM tasks WHERE status = 'pending'"
            " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            (now, limit),
        ).fetchall()
        self.conn.executemany(
            "UPDATE tasks SET next_attempt_at = ? WHERE id = ?", [(now + lease, r[0]) for r in rows]
        )
        return [ClaimedTask(id=r[0], kind=r[1], data=r[2], attempts=r[3]) for r in rows]

    def finish_task(self, task_id: int, error: str | None, now: float, retry_at: float) -> None:
        if error is None:
            self.conn.execute(
                "UPDATE tasks SET status = 'done', last_error = NULL WHERE id = ?", (task_id,)
            )
            return
        self.conn.execute(
            "UPDATE tasks SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
            " status = CASE WHEN attempts + 1 >= 20 THEN 'failed' ELSE 'pending' END WHERE id = ?",
            (error, retry_at, task_id),
        )

    # housekeeping ------------------------------------------------------------------------
    def prune(self, now: float, retention_seconds: float) -> int:
        """Forget what is older than retention, never an event that still has work pending."""
        cutoff = now - retention_seconds
        removed = self.conn.execute(  # seq follows arrival: walk it from the oldest (0005)
            "DELETE FROM events WHERE seq < COALESCE((SELECT seq FROM events"
            " WHERE received_at >= ?1 ORDER BY seq LIMIT 1), 1 << 62)"
            " AND received_at < ?1 AND processed = 1 AND settled = 1"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id"
            " AND d.status = 'pending')",
            (cutoff,),
        ).rowcount
        self.conn.execute("DELETE FROM nonces WHERE seen_at < ?", (cutoff,))
        self.conn.execute("DELETE FROM rejections WHERE received_at < ?", (cutoff,))
        self.conn.execute(
            "DELETE FROM attempts WHERE at < ? AND delivery_id IN"
            " (SELECT id FROM deliveries WHERE status != 'pending' AND updated_at < ?)",
            (cutoff, cutoff),
        )
        self.conn.execute(
            "DELETE FROM deliveries WHERE status = 'delivered' AND updated_at < ?", (cutoff,)
        )
        self.conn.execute(
            "DELETE FROM tasks WHERE status != 'pending' AND next_attempt_at < ?", (cutoff,)
        )
        self.prune_scenarios(cutoff)
        self.bot_state().prune(now)  # the detector's evidence has its own, shorter TTL
        return removed

    def isolated(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()  # see Tx.isolated: no savepoint on SQLite

    def bot_state(self) -> SqliteState:
        if self.bot_ttl_seconds is None:
            return SqliteState(self.conn)
        return SqliteState(self.conn, ttl_seconds=self.bot_ttl_seconds)

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return dict(rows.fetchall())


_EVENT_COLUMNS = "payload, raw, decision, processed, settled, bot, seq"


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
