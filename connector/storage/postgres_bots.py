"""Bot evidence in the service's PostgreSQL database: `BotState` as plain SQL.

Runs on the caller's cursor, inside its transaction (never commits), so evidence is shared
by every replica on the database the moment the transaction that recorded it commits.
Unlike SQLite's state there is no in-process mirror: another process may write the same
rows at any time, and a round trip to the server is cheap next to keeping a mirror honest.
So `snapshot` answers None ("not known without a read"), which the contract allows.

The queries give `MemoryState`'s answers: windows are inclusive, clicks come ordered by
(occurred, event id) with ids compared byte-wise (`COLLATE "C"` in the schema), and only
rows that had arrived by `received_by` count.
"""

# Only module constants (column lists, per-send filters, table names) are formatted into SQL.

from __future__ import annotations

from typing import Any

import psycopg

from connector.bots.records import DEFAULT_TTL_SECONDS, ClickRecord, DeliveryRecord, Snapshot

_COLUMNS = (
    "event_id, message_key, link_key, recipient_key, ip, network, occurred, received, evidence"
)


class PgBotState:
    """Evidence on `cur`'s connection; the caller owns the transaction."""

    def __init__(self, cur: psycopg.Cursor[Any], ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.cur = cur
        self.ttl_seconds = ttl_seconds

    def record_delivery(self, message_key: str, occurred: float, received: float) -> None:
        self.cur.execute(
            "INSERT INTO bot_deliveries (message_key, occurred, received) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (message_key, occurred, received),
        )

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        row = self.cur.execute(
            "SELECT occurred, received FROM bot_deliveries WHERE message_key = %s"
            " AND received <= %s ORDER BY occurred LIMIT 1",
            (message_key, received_by),
        ).fetchone()
        return None if row is None else DeliveryRecord(float(row[0]), float(row[1]))

    def record_click(self, click: ClickRecord) -> None:
        """Stored once: a repeated event id is ignored."""
        self.cur.execute(
            f"INSERT INTO bot_clicks ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            tuple(click),
        )

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        if not message_key:  # "" is "no message": such clicks belong to no message's rows
            return []
        rows = self.cur.execute(
            f"SELECT {_COLUMNS} FROM bot_clicks WHERE message_key = %s AND occurred >= %s"
            " AND occurred <= %s AND received <= %s ORDER BY occurred, event_id",
            (message_key, start, end, received_by),
        ).fetchall()
        return [_click(row) for row in rows]

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        if not ip:  # "" is "address unknown", not one address all such clicks share
            return 0
        row = self.cur.execute(
            "SELECT COUNT(DISTINCT recipient_key) FROM bot_clicks WHERE ip = %s"
            " AND occurred >= %s AND occurred <= %s AND received <= %s",
            (ip, start, end, received_by),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def prune(self, now: float) -> int:
        cutoff = now - self.ttl_seconds
        removed = 0
        for table in ("bot_deliveries", "bot_clicks"):
            removed += max(
                self.cur.execute(f"DELETE FROM {table} WHERE received < %s", (cutoff,)).rowcount,
                0,
            )
        return removed

    def snapshot(self, message_key: str, ip: str) -> Snapshot | None:
        return None


def _click(row: tuple[Any, ...]) -> ClickRecord:
    event_id, message, link, recipient, ip, network, occurred, received, evidence = row
    return ClickRecord(
        event_id,
        message,
        link,
        recipient,
        ip,
        network,
        float(occurred),
        float(received),
        int(evidence),
    )
