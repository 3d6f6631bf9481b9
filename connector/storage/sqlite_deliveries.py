"""SQLite's outbox statements on the delivery path: add, claim, record.

They live apart from `sqlite_tx.py` so the delivery path's SQL has one owner; `SqliteTx`
calls them. A delivery's body lives in `delivery_bodies` (migration 0006), not in its row:
the claim and each recorded attempt rewrite the row, which used to copy the ~1.5 KB body
twice per attempt. Claim and record are one statement each, whatever the batch's size.

A delivery delivered at its first attempt gets no `attempts` row (attempt_history.py): the
row cost a random page of `attempts_delivery` per delivery, 5.6 against 1.3 KB of WAL and
about 35 against 15 µs of the writer's CPU per delivery (claim and record in batches of 25,
in-process, 10,000 deliveries).
"""

from __future__ import annotations

import sqlite3
from functools import cache

import orjson

from connector.storage.attempt_history import first_success
from connector.storage.base import AttemptRecord, ClaimedDelivery, NewDelivery

_INSERT_DELIVERY = (
    "INSERT OR IGNORE INTO deliveries (id, event_id, action_id, rule_ids,"
    " next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# A delivery stored already keeps its body, as it keeps its row.
_INSERT_BODY = "INSERT OR IGNORE INTO delivery_bodies (id, body) VALUES (?, ?)"
# The index is named because, without statistics, SQLite preferred `deliveries_status` and
# sorted every pending row on each claim: ~40 µs per delivery once a backlog formed. CROSS
# JOIN keeps the outbox the outer loop, so the claim still reads only due rows, in order.
_SELECT_DUE = (
    "SELECT d.id, d.event_id, d.action_id, b.body, d.attempts, d.first_attempt_at"
    " FROM deliveries AS d INDEXED BY deliveries_due CROSS JOIN delivery_bodies AS b"
    " WHERE b.id = d.id AND d.status = 'pending' AND d.next_attempt_at <= ?"
    " ORDER BY d.next_attempt_at LIMIT ?"
)


@cache
def _lease(count: int) -> str:
    marks = ", ".join("?" * count)
    return f"UPDATE deliveries SET lease_until = ?1, next_attempt_at = ?1 WHERE id IN ({marks})"


@cache
def _insert_attempts(count: int) -> str:
    rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
    return (
        "INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, error,"
        f" duration_ms) VALUES {rows}"
    )


@cache
def _record_outcomes(count: int) -> str:
    rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * count)
    return (
        "UPDATE deliveries SET status = v.column2, attempts = v.column3,"
        " next_attempt_at = v.column4, lease_until = NULL,"
        " first_attempt_at = COALESCE(first_attempt_at, v.column5), last_status = v.column6,"
        " last_error = v.column7, last_duration_ms = v.column8, updated_at = v.column5"
        f" FROM (VALUES {rows}) AS v"
        " WHERE deliveries.id = v.column1"
    )


def add_deliveries(conn: sqlite3.Connection, deliveries: list[NewDelivery]) -> int:
    """Queue deliveries (an id stored already is left as it is); how many were new."""
    before = conn.total_changes
    conn.executemany(
        _INSERT_DELIVERY,
        [
            (d.id, d.event_id, d.action_id, orjson.dumps(d.rule_ids), *[d.not_before] * 3)
            for d in deliveries
        ],
    )
    added = conn.total_changes - before
    if added:
        conn.executemany(_INSERT_BODY, [(d.id, d.body) for d in deliveries])
    return added


def claim_deliveries(
    conn: sqlite3.Connection, now: float, limit: int, lease: float
) -> list[ClaimedDelivery]:
    """The oldest due deliveries, leased: their next attempt moves to the lease's end.

    So an attempt in flight is simply not due (a crash mid-attempt makes it due again when
    the lease ends), and the claim reads only due rows, in the order of `deliveries_due`.
    """
    rows = conn.execute(_SELECT_DUE, (now, limit)).fetchall()
    if rows:
        conn.execute(_lease(len(rows)), (now + lease, *[r[0] for r in rows]))
    return [ClaimedDelivery(r[0], r[1], r[2], r[3], r[4] + 1, r[5]) for r in rows]


def record_attempts(conn: sqlite3.Connection, attempts: list[AttemptRecord]) -> None:
    """Each attempt's row but a first one that delivered, and its delivery's new state (a
    retry stays pending)."""
    if not attempts:
        return
    kept = [a for a in attempts if not first_success(a)]
    if kept:
        conn.execute(
            _insert_attempts(len(kept)),
            [
                value
                for a in kept
                for value in (
                    a.delivery_id,
                    a.attempt,
                    a.at,
                    a.outcome,
                    a.status_code,
                    a.error,
                    a.duration_ms,
                )
            ],
        )
    latest = {a.delivery_id: a for a in attempts}  # one outcome per row: the last attempt's
    conn.execute(
        _record_outcomes(len(latest)),
        [
            value
            for a in latest.values()
            for value in (
                a.delivery_id,
                "pending" if a.outcome == "retry" else a.outcome,
                a.attempt,
                a.next_attempt_at,
                a.at,
                a.status_code,
                a.error,
                a.duration_ms,
            )
        ],
    )
