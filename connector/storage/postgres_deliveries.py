"""PostgreSQL's delivery claim and attempt record: the statements the delivery loop runs most.

They live apart from `postgres_tx.py` so the delivery path's SQL has one owner; `PgTx` calls
them. The claim locks what it returns with `FOR UPDATE SKIP LOCKED`: two workers never send
the same row, and a claim never waits behind another's.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import psycopg

from connector.storage.base import AttemptRecord, ClaimedDelivery

_CLAIM_DELIVERIES = (
    "WITH due AS (SELECT id, next_attempt_at AS due_at FROM deliveries"
    " WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE deliveries d SET lease_until = %s, next_attempt_at = %s FROM due"
    " WHERE d.id = due.id"
    " RETURNING d.id, d.event_id, d.action_id, d.body, d.attempts, d.first_attempt_at, due.due_at"
)
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, error,"
    " duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_RECORD_OUTCOME = (
    "UPDATE deliveries SET status = %s, attempts = %s, next_attempt_at = %s,"
    " lease_until = NULL, first_attempt_at = COALESCE(first_attempt_at, %s),"
    " last_status = %s, last_error = %s, updated_at = %s WHERE id = %s"
)
_ATTEMPT = attrgetter(
    "delivery_id", "attempt", "at", "outcome", "status_code", "error", "duration_ms"
)
_OUTCOME = attrgetter(
    "attempt", "next_attempt_at", "at", "status_code", "error", "at", "delivery_id"
)


def claim_deliveries(
    cur: psycopg.Cursor[Any], now: float, limit: int, lease: float
) -> list[ClaimedDelivery]:
    """The oldest due deliveries, leased: their next attempt moves to the lease's end,
    so an attempt in flight is not due (a crash mid-attempt makes it due again)."""
    until = now + lease
    rows = cur.execute(_CLAIM_DELIVERIES, (now, limit, until, until)).fetchall()
    rows.sort(key=lambda r: r[6])  # RETURNING has no order: the claim's, by due time
    return [ClaimedDelivery(r[0], r[1], r[2], r[3], r[4] + 1, r[5]) for r in rows]


def record_attempts(
    conn: psycopg.Connection[Any], cur: psycopg.Cursor[Any], attempts: list[AttemptRecord]
) -> None:
    """Each attempt's row, and its delivery's new state (a retry stays pending), pipelined."""
    if not attempts:
        return
    with conn.pipeline():
        cur.executemany(_INSERT_ATTEMPT, [_ATTEMPT(a) for a in attempts])
        cur.executemany(
            _RECORD_OUTCOME,
            [("pending" if a.outcome == "retry" else a.outcome, *_OUTCOME(a)) for a in attempts],
        )
