"""PostgreSQL's outbox statements on the delivery path: add, claim, record.

They live apart from `postgres_tx.py` so the delivery path's SQL has one owner; `PgTx` calls
them. A delivery's body lives in `delivery_bodies` (migration 0006), so the new tuple
versions the claim and each recorded attempt write no longer copy it. The claim locks what
it returns with `FOR UPDATE SKIP LOCKED`: two workers never send the same row, and a claim
never waits behind another's. A delivery delivered at its first attempt gets no `attempts`
row (attempt_history.py), as on SQLite.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import orjson
import psycopg

from connector.storage.attempt_history import first_success
from connector.storage.base import AttemptRecord, ClaimedDelivery, NewDelivery

_INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, event_id, action_id, rule_ids, next_attempt_at,"
    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
# A delivery stored already keeps its body, as it keeps its row.
_INSERT_BODY = "INSERT INTO delivery_bodies (id, body) VALUES (%s, %s) ON CONFLICT (id) DO NOTHING"
_CLAIM_DELIVERIES = (
    "WITH due AS (SELECT id, next_attempt_at AS due_at FROM deliveries"
    " WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE deliveries d SET lease_until = %s, next_attempt_at = %s"
    " FROM due JOIN delivery_bodies b ON b.id = due.id WHERE d.id = due.id"
    " RETURNING d.id, d.event_id, d.action_id, b.body, d.attempts, d.first_attempt_at, due.due_at"
)
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, error,"
    " duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_RECORD_OUTCOME = (
    "UPDATE deliveries SET status = %s, attempts = %s, next_attempt_at = %s,"
    " lease_until = NULL, first_attempt_at = COALESCE(first_attempt_at, %s),"
    " last_status = %s, last_error = %s, last_duration_ms = %s, updated_at = %s WHERE id = %s"
)
_DELIVERY = attrgetter("id", "event_id", "action_id")
_ATTEMPT = attrgetter(
    "delivery_id", "attempt", "at", "outcome", "status_code", "error", "duration_ms"
)
_OUTCOME = attrgetter(
    "attempt", "next_attempt_at", "at", "status_code", "error", "duration_ms", "at", "delivery_id"
)


def add_deliveries(cur: psycopg.Cursor[Any], deliveries: list[NewDelivery]) -> int:
    """Queue deliveries (an id stored already is left as it is); how many were new."""
    if not deliveries:
        return 0
    cur.executemany(
        _INSERT_DELIVERY,
        [
            (*_DELIVERY(d), orjson.dumps(d.rule_ids).decode(), *[d.not_before] * 3)
            for d in deliveries
        ],
    )
    added = max(cur.rowcount, 0)
    if added:
        cur.executemany(_INSERT_BODY, [(d.id, d.body) for d in deliveries])
    return added


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
    """Each attempt's row but a first one that delivered, and its delivery's new state (a
    retry stays pending), pipelined."""
    if not attempts:
        return
    kept = [_ATTEMPT(a) for a in attempts if not first_success(a)]
    with conn.pipeline():
        if kept:
            cur.executemany(_INSERT_ATTEMPT, kept)
        cur.executemany(
            _RECORD_OUTCOME,
            [("pending" if a.outcome == "retry" else a.outcome, *_OUTCOME(a)) for a in attempts],
        )
