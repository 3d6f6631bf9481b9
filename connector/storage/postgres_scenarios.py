"""SQL for the scenario engine on PostgreSQL: recipients, the click index, timers, entries.

The same operations as `sqlite_scenarios.py`. Where SQLite relies on running one write
transaction at a time, this takes row locks: `claim_timers` holds the timers it returns
(`FOR UPDATE SKIP LOCKED`: another worker skips them until this transaction ends), and
`resolve_wait` locks the wait it closes, so a click and a concurrent timeout cannot both
win. Recipient keys are `COLLATE "C"` columns, so paging by key sorts as SQLite does.
"""

# Only module constants (column lists, per-send filters, table names) are formatted into SQL.

from __future__ import annotations

from operator import attrgetter
from typing import Any

import psycopg

from connector.storage.click_gap_sql import ClickGapSql, statements
from connector.storage.scenario_keys import scenario_key
from connector.storage.scenario_records import (
    ClickRecord,
    IndexedClick,
    RecipientRecord,
    SendKey,
    TimerRecord,
    TimerRow,
    send_params,
    wait_sends,
)

# A click answers the wait of its message, or of its campaign (recipients registered by one)
_WAIT_SEND = (
    "((send_kind = 'message' AND send_id = %s) OR (send_kind = 'campaign' AND send_id = %s))"
)
_TIMER_COLUMNS = (
    "id, rule_id, kind, send_kind, send_id, recipient, due_at, status, origin, created_at,"
    " fired_at, cursor, emitted, data, started_at"
)
_CLICK_COLUMNS = (
    "event_id, recipient, canonical, system, test, occurred_at, suspected, settled, settle_at"
)
_RECIPIENT_COLUMNS = "campaign_id, message_id, recipient, status, at, test, data"
# Where a send's rows are: by campaign, by message, or everything.
_SEND_FILTER = {"campaign": "campaign_id = %s", "message": "message_id = %s", "all": "TRUE"}
_RANK = "CASE {0} WHEN 'delivered' THEN 3 WHEN 'registered' THEN 2 ELSE 1 END"


_RECIPIENT = attrgetter("campaign_id", "message_id", "recipient", "status", "at")
_CLICK = attrgetter("event_id", "recipient", "message_id", "campaign_id", "canonical")
_FLAGS = attrgetter("system", "test", "suspected", "settled")
_TIMER = attrgetter(
    "id",
    "rule_id",
    "kind",
    "send.kind",
    "send.id",
    "recipient",
    "due_at",
    "origin",
    "created_at",
    "data",
    "started_at",
)


class PgScenarioSql(ClickGapSql):
    """Mixed into `PgTx`: the scenario operations of the `Tx` protocol."""

    cur: psycopg.Cursor[Any]
    _GAP_SQL = statements("%s")

    def _gap_run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    # recipients and clicks ---------------------------------------------------------------
    def record_recipients(self, rows: list[RecipientRecord]) -> None:
        """Upsert: a delivery outranks a registration, which outranks a mere send."""
        if not rows:
            return
        self.cur.executemany(
            f"INSERT INTO recipients ({_RECIPIENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (campaign_id, message_id, recipient) DO UPDATE SET"
            " status = excluded.status, at = excluded.at, data = excluded.data"
            f" WHERE ({_RANK.format('excluded.status')}) > ({_RANK.format('recipients.status')})",
            [(*_RECIPIENT(r), int(r.test), r.data) for r in rows],
        )

    def send_recipients(
        self, send: SendKey, after: str, limit: int, statuses: tuple[str, ...]
    ) -> list[RecipientRecord]:
        """The next `limit` recipients of `send` after key `after`, one row each (the most
        recent message of theirs in a campaign)."""
        where = f"{_SEND_FILTER[send.kind]} AND recipient > %s AND status = ANY(%s)"
        params = (*send_params(send), after, list(statuses))
        keys = self.cur.execute(
            f"SELECT DISTINCT recipient FROM recipients WHERE {where} ORDER BY recipient LIMIT %s",
            (*params, limit),
        ).fetchall()
        if not keys:
            return []
        rows = self.cur.execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE {where} AND recipient <= %s"
            " ORDER BY recipient, at",
            (*params, keys[-1][0]),
        ).fetchall()
        latest = {row[2]: _recipient(row) for row in rows}
        return list(latest.values())

    def recipient_record(self, message_id: str, recipient: str) -> RecipientRecord | None:
        row = self.cur.execute(
            f"SELECT {_RECIPIENT_COLUMNS} FROM recipients WHERE message_id = %s"
            " AND recipient = %s ORDER BY at DESC LIMIT 1",
            (scenario_key(message_id), scenario_key(recipient)),
        ).fetchone()
        return None if row is None else _recipient(row)

    def record_clicks(self, rows: list[ClickRecord]) -> None:
        if not rows:
            return
        self.cur.executemany(
            "INSERT INTO clicks (event_id, recipient, message_id, campaign_id, canonical, system,"
            " test, suspected, settled, occurred_at, settle_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(*_CLICK(c), *map(int, _FLAGS(c)), c.occurred_at, c.settle_at) for c in rows],
        )

    def settle_clicks(self, verdicts: list[tuple[str, bool]]) -> None:
        """The settled verdict replaces the immediate one in the index."""
        if not verdicts:
            return
        self.cur.executemany(
            "UPDATE clicks SET suspected = %s, settled = 1 WHERE event_id = %s",
            [(int(suspected), event_id) for event_id, suspected in verdicts],
        )

    def send_clicks(
        self, send: SendKey, first: str, last: str, before: float
    ) -> list[IndexedClick]:
        """Clicks of `send` made before `before` by recipients in [first, last]."""
        rows = self.cur.execute(
            f"SELECT {_CLICK_COLUMNS} FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND recipient >= %s AND recipient <= %s AND occurred_at < %s"
            " ORDER BY recipient, occurred_at",
            (*send_params(send), first, last, before),
        ).fetchall()
        return [_click(row) for row in rows]

    def clicked_recipients(self, send: SendKey, after: str, limit: int, before: float) -> list[str]:
        rows = self.cur.execute(
            f"SELECT DISTINCT recipient FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND recipient > %s AND occurred_at < %s ORDER BY recipient LIMIT %s",
            (*send_params(send), after, before, limit),
        ).fetchall()
        return [row[0] for row in rows]

    def unsettled_until(self, send: SendKey, recipient: str | None, before: float) -> float | None:
        """When the last click of `send` (by `recipient`) before `before` settles, if any
        is still waiting for its settled verdict."""
        query = (
            f"SELECT MAX(settle_at) FROM clicks WHERE {_SEND_FILTER[send.kind]}"
            " AND settled = 0 AND occurred_at < %s"
        )
        params: tuple[Any, ...] = (*send_params(send), before)
        if recipient is not None:
            query += " AND recipient = %s"
            params += (scenario_key(recipient),)
        row = self.cur.execute(query, params).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def click_payload(self, event_id: str) -> tuple[bytes, bytes | None] | None:
        """A stored click's payload and verdict (for the copy a `clicked_by` check sends)."""
        row = self.cur.execute(
            "SELECT payload, bot FROM events WHERE id = %s", (event_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    # timers ------------------------------------------------------------------------------
    def add_timers(self, timers: list[TimerRecord]) -> int:
        if not timers:
            return 0
        self.cur.executemany(
            "INSERT INTO timers (id, rule_id, kind, send_kind, send_id, recipient, due_at,"
            " origin, created_at, data, started_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            [_TIMER(t) for t in timers],
        )
        return max(self.cur.rowcount, 0)

    def claim_timers(self, now: float, limit: int) -> list[TimerRow]:
        """Due timers, oldest first; locked until this transaction ends, and skipped (not
        waited for) by any other transaction's claim meanwhile."""
        rows = self.cur.execute(
            f"SELECT {_TIMER_COLUMNS} FROM timers WHERE status = 'pending' AND due_at <= %s"
            " ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, limit),
        ).fetchall()
        return [_timer(row) for row in rows]

    def next_timer_due(self) -> float | None:
        row = self.cur.execute("SELECT MIN(due_at) FROM timers WHERE status = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def advance_timer(self, timer_id: str, cursor: str, emitted: int) -> None:
        self.cur.execute(
            "UPDATE timers SET cursor = %s, emitted = emitted + %s WHERE id = %s",
            (cursor, emitted, timer_id),
        )

    def defer_timer(self, timer_id: str, due_at: float) -> None:
        self.cur.execute("UPDATE timers SET due_at = %s WHERE id = %s", (due_at, timer_id))

    def finish_timer(self, timer_id: str, status: str, now: float, emitted: int = 0) -> None:
        self.cur.execute(
            "UPDATE timers SET status = %s, fired_at = %s, emitted = emitted + %s WHERE id = %s",
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
        timer's id, or None when there is none. Exactly one of click and timeout wins: the
        wait is locked (waiting for a firing that holds it, then re-checked as it left it)."""
        row = self.cur.execute(
            "SELECT id FROM timers WHERE kind = 'wait' AND status = 'pending' AND rule_id = %s"
            f" AND recipient = %s AND {_WAIT_SEND} AND due_at > %s ORDER BY due_at LIMIT 1"
            " FOR UPDATE",
            (rule_id, scenario_key(recipient), *wait_sends(message_id, campaign_id), clicked_at),
        ).fetchone()
        if row is None:
            return None
        self.finish_timer(row[0], "clicked", now)
        return str(row[0])

    def cancel_timers(self, timer_ids: list[str], now: float) -> int:
        return self.cur.execute(
            "UPDATE timers SET status = 'cancelled', fired_at = %s WHERE id = ANY(%s)"
            " AND status = 'pending'",
            (now, timer_ids),
        ).rowcount

    def cancel_stale_config_timers(self, rule_id: str, keep: list[str], now: float) -> int:
        """A config check whose rule now names another send or time is cancelled."""
        return self.cur.execute(
            "UPDATE timers SET status = 'cancelled', fired_at = %s WHERE origin = 'config'"
            " AND rule_id = %s AND status = 'pending' AND NOT (id = ANY(%s))",
            (now, rule_id, keep),
        ).rowcount

    def timers(
        self, *, send: SendKey | None = None, status: str | None = None, limit: int = 100
    ) -> list[TimerRow]:
        query = f"SELECT {_TIMER_COLUMNS} FROM timers WHERE TRUE"
        params: tuple[Any, ...] = ()
        if send is not None:
            query += " AND send_kind = %s AND send_id = %s"
            params += (send.kind, scenario_key(send.id))
        if status is not None:
            query += " AND status = %s"
            params += (status,)
        rows = self.cur.execute(query + " ORDER BY due_at LIMIT %s", (*params, limit)).fetchall()
        return [_timer(row) for row in rows]

    def timer(self, timer_id: str) -> TimerRow | None:
        row = self.cur.execute(
            f"SELECT {_TIMER_COLUMNS} FROM timers WHERE id = %s", (timer_id,)
        ).fetchone()
        return None if row is None else _timer(row)

    def send_known(self, send: SendKey) -> bool:
        """Whether any recipient, click or check names `send`."""
        where = _SEND_FILTER[send.kind]
        params = send_params(send)
        row = self.cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM recipients WHERE {where})"
            f" OR EXISTS (SELECT 1 FROM clicks WHERE {where})"
            " OR EXISTS (SELECT 1 FROM timers WHERE send_kind = %s AND send_id = %s)",
            (*params, *params, send.kind, scenario_key(send.id)),
        ).fetchone()
        return bool(row and row[0])

    # re-entry ----------------------------------------------------------------------------
    def entry_holder(
        self, key: str, event_id: str, now: float, window: float | None
    ) -> tuple[str, str, float] | None:
        """The entry that holds `key` against `event_id` (rule, event, when), or None.

        An entry older than `window` seconds no longer holds; an event never blocks itself
        (its settled pass may come back to the same key).
        """
        row = self.cur.execute(
            "SELECT rule_id, event_id, entered_at FROM entries WHERE key = %s", (scenario_key(key),)
        ).fetchone()
        if row is None or row[1] == event_id or (window is not None and now - row[2] >= window):
            return None
        return (row[0], row[1], row[2])

    def record_entry(self, key: str, rule_id: str, event_id: str, now: float) -> None:
        self.cur.execute(
            "INSERT INTO entries (key, rule_id, event_id, entered_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (key) DO UPDATE SET rule_id = excluded.rule_id,"
            " event_id = excluded.event_id, entered_at = excluded.entered_at",
            (scenario_key(key), rule_id, event_id, now),
        )

    def prune_scenarios(self, cutoff: float) -> None:
        self.cur.execute("DELETE FROM clicks WHERE occurred_at < %s", (cutoff,))
        self.cur.execute("DELETE FROM recipients WHERE at < %s", (cutoff,))
        self.cur.execute(
            "DELETE FROM timers WHERE status != 'pending' AND fired_at < %s", (cutoff,)
        )
        # clicks kept for a delivery that came late (scenarios/early.py)
        self.cur.execute(
            "DELETE FROM entries WHERE key LIKE 'early:%%' AND entered_at < %s", (cutoff,)
        )


def _recipient(row: Any) -> RecipientRecord:
    """From `campaign_id, message_id, recipient, status, at, test, data`."""
    campaign_id, message_id, recipient, status, at, test, data = row
    return RecipientRecord(recipient, message_id, campaign_id, status, at, bool(test), data)


def _timer(row: Any) -> TimerRow:
    id_, rule_id, kind, send_kind, send_id, *rest = row
    return TimerRow(id_, rule_id, kind, SendKey(send_kind, send_id), *rest)


def _click(row: Any) -> IndexedClick:
    event_id, recipient, canonical, system, test, occurred_at, suspected, settled, settle_at = row
    return IndexedClick(
        event_id, recipient, canonical, bool(system), bool(test), occurred_at, bool(suspected),
        bool(settled), settle_at,
    )  # fmt: skip
