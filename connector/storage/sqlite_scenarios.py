"""SQL for the scenario engine on SQLite: recipients, the click index, timers, entries.

Claims need no lease here: a timer is claimed and worked on inside one write transaction,
and SQLite runs one write transaction at a time, so two workers on one file can never both
fire a timer. (On PostgreSQL the same claim is `FOR UPDATE SKIP LOCKED`.)
"""

from __future__ import annotations

import sqlite3
from typing import Any

from connector.storage.click_gap_sql import ClickGapSql, statements
from connector.storage.scenario_keys import scenario_key
from connector.storage.scenario_records import (
    ClickRecord,
    IndexedClick,
    RecipientRecord,
    SendKey,
    send_params,
)

SCENARIO_SCHEMA = """
CREATE TABLE IF NOT EXISTS recipients (
    campaign_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    test INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL,
    PRIMARY KEY (campaign_id, message_id, recipient)
) WITHOUT ROWID;
-- a check streams a send's recipients in key order: each page is an index range
CREATE INDEX IF NOT EXISTS recipients_campaign ON recipients (campaign_id, recipient);
CREATE INDEX IF NOT EXISTS recipients_message ON recipients (message_id, recipient);
CREATE INDEX IF NOT EXISTS recipients_recipient ON recipients (recipient);
CREATE INDEX IF NOT EXISTS recipients_at ON recipients (at);
CREATE TABLE IF NOT EXISTS clicks (
    event_id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    message_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    canonical TEXT NOT NULL,
    system INTEGER NOT NULL,
    test INTEGER NOT NULL,
    occurred_at REAL NOT NULL,
    suspected INTEGER NOT NULL,
    settled INTEGER NOT NULL,
    settle_at REAL
);
CREATE INDEX IF NOT EXISTS clicks_campaign ON clicks (campaign_id, recipient);
CREATE INDEX IF NOT EXISTS clicks_message ON clicks (message_id, recipient);
CREATE INDEX IF NOT EXISTS clicks_recipient ON clicks (recipient);
CREATE INDEX IF NOT EXISTS clicks_occurred ON clicks (occurred_at);
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    send_kind TEXT NOT NULL,
    send_id TEXT NOT NULL,
    recipient TEXT,
    due_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    origin TEXT NOT NULL,
    created_at REAL NOT NULL,
    fired_at REAL,
    cursor TEXT,
    emitted INTEGER NOT NULL DEFAULT 0,
    data BLOB NOT NULL,
    started_at REAL
);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS timers_waiting ON timers (rule_id, recipient, send_id)
    WHERE kind = 'wait' AND status = 'pending';
CREATE INDEX IF NOT EXISTS timers_send ON timers (send_kind, send_id);
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    entered_at REAL NOT NULL
) WITHOUT ROWID;
"""

_CLICK_COLUMNS = (
    "event_id, recipient, canonical, system, test, occurred_at, suspected, settled, settle_at"
)
# Where a send's rows are: by campaign, by message, or everything.
_SEND_FILTER = {"campaign": "campaign_id = ?", "message": "message_id = ?", "all": "1 = 1"}
_STATUS_RANK = "CASE status WHEN 'delivered' THEN 3 WHEN 'registered' THEN 2 ELSE 1 END"


class ScenarioSql(ClickGapSql):
    """Mixed into `SqliteTx`: the scenario operations of the `Tx` protocol."""

    conn: sqlite3.Connection
    _GAP_SQL = statements("?")

    def _gap_run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    # recipients and clicks -----------------------------------------------------------------
    def record_recipients(self, rows: list[RecipientRecord]) -> None:
        """Upsert: a delivery outranks a registration, which outranks a mere send."""
        self.conn.executemany(
            "INSERT INTO recipients (campaign_id, message_id, recipient, status, at, test, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign_id, message_id, recipient)"
            f" DO UPDATE SET status = excluded.status, at = excluded.at, data = excluded.data"
            f" WHERE ({_STATUS_RANK.replace('status', 'excluded.status')}) > ({_STATUS_RANK})",
            [
                (r.campaign_id, r.message_id, r.recipient, r.status, r.at, r.test, r.data)
                for r in rows
            ],
        )

    def send_recipients(
        self, send: SendKey, after: str, limit: int, statuses: tuple[str, ...]
    ) -> list[RecipientRecord]:
        """The next `limit` recipients of `send` after key `after`, one row each (the most
        recent message of theirs in a campaign)."""
        marks = ", ".join("?" * len(statuses))
        where = f"{_SEND_FILTER[send.kind]} AND recipient > ? AND status IN ({marks})"
        params = (*send_params(send), after, *statuses)
        keys = self.conn.execute(
            f"SELECT DISTINCT recipient FROM recipients WHERE {where} ORDER BY recipient LIMIT ?",
            (*params, limit),
        ).fetchall()
        if not keys:
            return []
        rows = self.conn.execute(
            "SELECT campaign_id, message_id, recipient, status, at, test, data FROM recipients"
            f" WHERE {where} AND recipient <= ? ORDER BY recipient, at",
            (*params, keys[-1][0]),
        ).fetchall()
        latest = {
            r[2]: RecipientRecord(r[2], r[1], r[0], r[3], r[4], bool(r[5]), r[6]) for r in rows
        }
        return list(latest.values())

    def recipient_record(self, message_id: str, recipient: str) -> RecipientRecord | None:
        row = self.conn.execute(
            "SELECT campaign_id, message_id, recipient, status, at, test, data FROM recipients"
            " WHERE message_id = ? AND recipient = ? ORDER BY at DESC LIMIT 1",
            (scenario_key(message_id), scenario_key(recipient)),
        ).fetchone()
        return (
            None
            if row is None
            else RecipientRecord(row[2], row[1], row[0], row[3], row[4], bool(row[5]), row[6])
        )

    def record_clicks(self, rows: list[ClickRecord]) -> None:
        self.conn.executemany(
            "INSERT OR IGNORE INTO clicks (event_id, recipient, message_id, campaign_id,"
            " canonical, system, test, occurred_at, suspected, settled, settle_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.event_id,
                    c.recipient,
                    c.message_id,
                    c.campaign_id,
                    c.canonical,
                    c.system,
                    c.test,
                    c.occurred_at,
                    c.suspected,
                    c.settled,
                    c.settle_at,
                )
                for c in rows
            ],
        )

    def settle_clicks(self, verdicts: list[tuple[str, bool]]) -> None:
        """The settled verdict replaces the immediate one in the index."""
        self.conn.executemany(
            "UPDATE clicks SET suspected = ?, settled = 1 WHERE event_id = ?",
            [(suspected, event_id) for event_id, suspected in verdicts],
        )

    def send_clicks(
        self, send: SendKey, first: str, last: str, before: float
    ) -> list[IndexedClick]:
        """Clicks of `send` made before `before` by recipients in [first, last]."""
        rows = self.conn.execute(
            f"SELECT {_CLICK_COLUMNS} FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND recipient >= ? AND recipient <= ? AND occurred_at < ?"
            " ORDER BY recipient, occurred_at",
            (*send_params(send), first, last, before),
        ).fetchall()
        return [_click(row) for row in rows]

    def clicked_recipients(self, send: SendKey, after: str, limit: int, before: float) -> list[str]:
        rows = self.conn.execute(
            f"SELECT DISTINCT recipient FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND recipient > ? AND occurred_at < ? ORDER BY recipient LIMIT ?",
            (*send_params(send), after, before, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def unsettled_until(self, send: SendKey, recipient: str | None, before: float) -> float | None:
        """When the last click of `send` (by `recipient`) before `before` settles, if any
        is still waiting for its settled verdict."""
        query = (
            f"SELECT MAX(settle_at) FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND settled = 0 AND occurred_at < ?"
        )
        params: tuple[Any, ...] = (*send_params(send), before)
        if recipient is not None:
            query += " AND recipient = ?"
            params += (scenario_key(recipient),)
        value = self.conn.execute(query, params).fetchone()[0]
        return None if value is None else float(value)

    def click_payload(self, event_id: str) -> tuple[bytes, bytes | None] | None:
        """A stored click's payload and verdict (for the copy a `clicked_by` check sends)."""
        row = self.conn.execute(
            "SELECT payload, bot FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def send_known(self, send: SendKey) -> bool:
        """Whether any recipient, click or check names `send`."""
        where = _SEND_FILTER[send.kind]
        params = send_params(send)
        for query in (
            f"SELECT 1 FROM recipients WHERE {where} LIMIT 1",
            f"SELECT 1 FROM clicks WHERE {where} LIMIT 1",
        ):
            if self.conn.execute(query, params).fetchone():
                return True
        return bool(
            self.conn.execute(
                "SELECT 1 FROM timers WHERE send_kind = ? AND send_id = ? LIMIT 1",
                (send.kind, scenario_key(send.id)),
            ).fetchone()
        )

    def prune_scenarios(self, cutoff: float) -> None:
        self.conn.execute("DELETE FROM clicks WHERE occurred_at < ?", (cutoff,))
        self.conn.execute("DELETE FROM recipients WHERE at < ?", (cutoff,))
        self.conn.execute(
            "DELETE FROM timers WHERE status != 'pending' AND fired_at < ?", (cutoff,)
        )
        # clicks kept for a delivery that came late (scenarios/early.py)
        self.conn.execute(
            "DELETE FROM entries WHERE key LIKE 'early:%' AND entered_at < ?", (cutoff,)
        )


def _recipient(row: Any) -> RecipientRecord:
    """From `campaign_id, message_id, recipient, status, at, test, data`."""
    return RecipientRecord(
        recipient=row[2],
        message_id=row[1],
        campaign_id=row[0],
        status=row[3],
        at=row[4],
        test=bool(row[5]),
        data=row[6],
    )


def _click(row: Any) -> IndexedClick:
    return IndexedClick(
        event_id=row[0],
        recipient=row[1],
        canonical=row[2],
        system=bool(row[3]),
        test=bool(row[4]),
        occurred_at=row[5],
        suspected=bool(row[6]),
        settled=bool(row[7]),
        settle_at=row[8],
    )
