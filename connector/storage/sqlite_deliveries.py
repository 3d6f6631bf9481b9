"""SQLite's delivery claim and attempt record: the statements the delivery loop runs most.

They live apart from `sqlite_tx.py` so the delivery path's SQL has one owner; `SqliteTx`
calls them.
"""

from __future__ import annotations

import sqlite3

from connector.storage.base import AttemptRecord, ClaimedDelivery

# The index is named because, without statistics, SQLite preferred `deliveries_status` and
# sorted every pending row, bodies and all, on each claim: ~40 µs per delivery once a
# backlog formed.
_SELECT_DUE = (
    "SELECT id, event_id, action_id, body, attempts, first_attempt_at"
    " FROM deliveries INDEXED BY deliveries_due"
    " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?"
)
_LEASE = "UPDATE deliveries SET lease_until = ?, next_attempt_at = ? WHERE id = ?"
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, error,"
    " duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_RECORD_OUTCOME = (
    "UPDATE deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
    " lease_until = NULL, first_attempt_at = COALESCE(first_attempt_at, ?),"
    " last_status = ?, last_error = ?, updated_at = ? WHERE id = ?"
)


def claim_deliveries(
    conn: sqlite3.Connection, now: float, limit: int, lease: float
) -> list[ClaimedDelivery]:
    """The oldest due deliveries, leased: their next attempt moves to the lease's end.

    So an attempt in flight is simply not due (a crash mid-attempt makes it due again when
    the lease ends), and the claim reads only due rows, in the order of `deliveries_due`.
    """
    rows = conn.execute(_SELECT_DUE, (now, limit)).fetchall()
    conn.executemany(_LEASE, [(now + lease, now + lease, r[0]) for r in rows])
    return [
        ClaimedDelivery(
            id=r[0],
            event_id=r[1],
            action_id=r[2],
            body=r[3],
            attempt=r[4] + 1,
            first_attempt_at=r[5],
        )
        for r in rows
    ]


def record_attempts(conn: sqlite3.Connection, attempts: list[AttemptRecord]) -> None:
    """Each attempt's row, and its delivery's new state (a retry stays pending)."""
    conn.executemany(
        _INSERT_ATTEMPT,
        [
            (a.delivery_id, a.attempt, a.at, a.outcome, a.status_code, a.error, a.duration_ms)
            for a in attempts
        ],
    )
    conn.executemany(
        _RECORD_OUTCOME,
        [
            (
                "pending" if a.outcome == "retry" else a.outcome,
                a.attempt,
                a.next_attempt_at,
                a.at,
                a.status_code,
                a.error,
                a.at,
                a.delivery_id,
            )
            for a in attempts
        ],
    )
