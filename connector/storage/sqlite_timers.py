"""SQL for the scenario engine's timers and re-entry marks on SQLite (see sqlite_scenarios.py
for the schema). A timer is claimed and worked on inside one write transaction, and SQLite
runs one at a time, so two workers on one file never fire the same timer."""

from __future__ import annotations

import sqlite3
from typing import Any

from connector.storage.scenario_keys import scenario_key
from connector.storage.scenario_records import SendKey, TimerRecord, TimerRow, wait_sends

# A click answers the wait of its message, or of its campaign (recipients registered by one)
_WAIT_SEND = "((send_kind = 'message' AND send_id = ?) OR (send_kind = 'campaign' AND send_id = ?))"
_TIMER_COLUMNS = (
    "id, rule_id, kind, send_kind, send_id, recipient, due_at, status, origin, created_at,"
    " fired_at, cursor, emitted, data, started_at"
)


class TimerSql:
    """Mixed into `SqliteTx`: the timer and entry operations of `ScenarioOps`."""

    conn: sqlite3.Connection

    # timers -----------------------------------------------------------------------------
    def add_timers(self, timers: list[TimerRecord]) -> int:
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR IGNORE INTO timers (id, rule_id, kind, send_kind, send_id, recipient,"
            " due_at, origin, created_at, data, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    t.id,
                    t.rule_id,
                    t.kind,
                    t.send.kind,
                    t.send.id,
                    t.recipient,
                    t.due_at,
                    t.origin,
                    t.created_at,
                    t.data,
                    t.started_at,
                )
                for t in timers
            ],
        )
        return self.conn.total_changes - before

    def claim_timers(self, now: float, limit: int) -> list[TimerRow]:
        """Due timers, oldest first; held until this transaction ends."""
        rows = self.conn.execute(
            f"SELECT {_TIMER_COLUMNS} FROM timers INDEXED BY timers_due"
            " WHERE status = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        ).fetchall()
        return [_timer(row) for row in rows]

    def next_timer_due(self) -> float | None:
        row = self.conn.execute(
            "SELECT MIN(due_at) FROM timers WHERE status = 'pending'"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def advance_timer(self, timer_id: str, cursor: str, emitted: int) -> None:
        self.conn.execute(
            "UPDATE timers SET cursor = ?, emitted = emitted + ? WHERE id = ?",
            (cursor, emitted, timer_id),
        )

    def defer_timer(self, timer_id: str, due_at: float) -> None:
        self.conn.execute("UPDATE timers SET due_at = ? WHERE id = ?", (due_at, timer_id))

    def finish_timer(self, timer_id: str, status: str, now: float, emitted: int = 0) -> None:
        self.conn.execute(
            "UPDATE timers SET status = ?, fired_at = ?, emitted = emitted + ? WHERE id = ?",
            (status, now, emitted, timer_id),
        )

    def resolve_wait(
        self,
        rule_id: str,
        recipient: str,
        message_id: str,
        clicked_at: float,
        now: float,
        campaign_id: str = "",
    ) -> str | None:
        """Close the pending wait this click answers (still running when it was made): the
        timer's id, or None when there is none. Exactly one of click and timeout wins."""
        row = self.conn.execute(
            "SELECT id FROM timers INDEXED BY timers_waiting WHERE kind = 'wait'"
            " AND status = 'pending' AND rule_id = ? AND recipient = ?"
            f" AND {_WAIT_SEND} AND due_at > ? ORDER BY due_at LIMIT 1",
            (rule_id, scenario_key(recipient), *wait_sends(message_id, campaign_id), clicked_at),
        ).fetchone()
        if row is None:
            return None
        self.finish_timer(row[0], "clicked", now)
        return str(row[0])

    def cancel_timers(self, timer_ids: list[str], now: float) -> int:
        changed = 0
        for timer_id in timer_ids:
            changed += self.conn.execute(
                "UPDATE timers SET status = 'cancelled', fired_at = ? WHERE id = ?"
                " AND status = 'pending'",
                (now, timer_id),
            ).rowcount
        return changed

    def cancel_stale_config_timers(self, rule_id: str, keep: list[str], now: float) -> int:
        """A config check whose rule now names another send or time is cancelled."""
        marks = ", ".join("?" * len(keep))
        return self.conn.execute(
            "UPDATE timers SET status = 'cancelled', fired_at = ? WHERE origin = 'config'"
            f" AND rule_id = ? AND status = 'pending' AND id NOT IN ({marks})",
            (now, rule_id, *keep),
        ).rowcount

    def timers(
        self, *, send: SendKey | None = None, status: str | None = None, limit: int = 100
    ) -> list[TimerRow]:
        query = f"SELECT {_TIMER_COLUMNS} FROM timers WHERE 1 = 1"
        params: tuple[Any, ...] = ()
        if send is not None:
            query += " AND send_kind = ? AND send_id = ?"
            params += (send.kind, scenario_key(send.id))
        if status is not None:
            query += " AND status = ?"
            params += (status,)
        rows = self.conn.execute(query + " ORDER BY due_at LIMIT ?", (*params, limit)).fetchall()
        return [_timer(row) for row in rows]

    def timer(self, timer_id: str) -> TimerRow | None:
        row = self.conn.execute(
            f"SELECT {_TIMER_COLUMNS} FROM timers WHERE id = ?", (timer_id,)
        ).fetchone()
        return None if row is None else _timer(row)

    # re-entry ---------------------------------------------------------------------------
    def entry_holder(
        self, key: str, event_id: str, now: float, window: float | None
    ) -> tuple[str, str, float] | None:
        """The entry that holds `key` against `event_id` (rule, event, when), or None.

        An entry older than `window` seconds no longer holds; an event never blocks itself
        (its settled pass may come back to the same key).
        """
        row = self.conn.execute(
            "SELECT rule_id, event_id, entered_at FROM entries WHERE key = ?", (scenario_key(key),)
        ).fetchone()
        if row is None or row[1] == event_id or (window is not None and now - row[2] >= window):
            return None
        return (row[0], row[1], row[2])

    def record_entry(self, key: str, rule_id: str, event_id: str, now: float) -> None:
        self.conn.execute(
            "INSERT INTO entries (key, rule_id, event_id, entered_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET rule_id = excluded.rule_id,"
            " event_id = excluded.event_id, entered_at = excluded.entered_at",
            (scenario_key(key), rule_id, event_id, now),
        )


def _timer(row: Any) -> TimerRow:
    return TimerRow(
        id=row[0],
        rule_id=row[1],
        kind=row[2],
        send=SendKey(row[3], row[4]),
        recipient=row[5],
        due_at=row[6],
        status=row[7],
        origin=row[8],
        created_at=row[9],
        fired_at=row[10],
        cursor=row[11],
        emitted=row[12],
        data=row[13],
        started_at=row[14],
    )
