"""Evidence the detector keeps between events: delivery times and recent clicks.

`BotState` is the contract; `MemoryState` serves replays (`bots evaluate`) and tests,
`SqliteState` runs on the service's own connection so evidence is shared by every replica
using the same store. Times are epoch seconds (float). Every query takes `received_by` so a
verdict only sees what had arrived by then: replaying stored events gives the same verdicts
however late the settle pass runs. Rows live `ttl_seconds` after arrival (`prune`).
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_left, bisect_right, insort
from typing import Any, NamedTuple, Protocol

DEFAULT_TTL_SECONDS = 6 * 3600.0


class ClickRecord(NamedTuple):
    event_id: str
    message_key: str  # "" when the event names no message
    link_key: str
    recipient_key: str
    ip: str  # "" when unknown
    network: str  # /24 or /48 of `ip`; "" when unknown
    occurred: float
    received: float
    evidence: int  # points from the click's own IP and agent: who is the scanner in a pair


class DeliveryRecord(NamedTuple):
    occurred: float
    received: float


class BotState(Protocol):
    def record_delivery(self, message_key: str, occurred: float, received: float) -> None: ...

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        """The earliest delivery of the message that had arrived by `received_by`."""
        ...

    def record_click(self, click: ClickRecord) -> None:
        """Store a click once (a repeated event id is ignored)."""
        ...

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        """Clicks of a message with start <= occurred <= end, ordered by (occurred, id)."""
        ...

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        """Distinct recipients that `ip` clicked for with start <= occurred <= end."""
        ...

    def prune(self, now: float) -> int:
        """Forget rows that arrived more than the TTL before `now`; returns rows removed."""
        ...


class _Timeline:
    """Clicks kept sorted by (occurred, event_id) for window slicing."""

    def __init__(self) -> None:
        self.keys: list[tuple[float, str]] = []
        self.items: list[ClickRecord] = []

    def add(self, click: ClickRecord) -> None:
        key = (click.occurred, click.event_id)
        position = bisect_left(self.keys, key)
        self.keys.insert(position, key)
        self.items.insert(position, click)

    def window(self, start: float, end: float, received_by: float) -> list[ClickRecord]:
        low = bisect_left(self.keys, (start, ""))
        high = bisect_right(self.keys, (end, "\U0010ffff"))
        return [c for c in self.items[low:high] if c.received <= received_by]


class MemoryState:
    """In-process evidence for replays and tests."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._deliveries: dict[str, list[DeliveryRecord]] = {}
        self._clicks: dict[str, ClickRecord] = {}
        self._by_message: dict[str, _Timeline] = {}
        self._by_ip: dict[str, _Timeline] = {}

    def record_delivery(self, message_key: str, occurred: float, received: float) -> None:
        records = self._deliveries.setdefault(message_key, [])
        if all(r.occurred != occurred for r in records):
            insort(records, DeliveryRecord(occurred, received), key=lambda r: r.occurred)

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        for record in self._deliveries.get(message_key, ()):
            if record.received <= received_by:
                return record
        return None

    def record_click(self, click: ClickRecord) -> None:
        if click.event_id in self._clicks:
            return
        self._clicks[click.event_id] = click
        if click.message_key:
            self._by_message.setdefault(click.message_key, _Timeline()).add(click)
        if click.ip:
            self._by_ip.setdefault(click.ip, _Timeline()).add(click)

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        timeline = self._by_message.get(message_key)
        return timeline.window(start, end, received_by) if timeline else []

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        timeline = self._by_ip.get(ip)
        if timeline is None:
            return 0
        return len({c.recipient_key for c in timeline.window(start, end, received_by)})

    def prune(self, now: float) -> int:
        cutoff = now - self.ttl_seconds
        removed = 0
        for key, records in list(self._deliveries.items()):
            kept = [r for r in records if r.received >= cutoff]
            removed += len(records) - len(kept)
            if kept:
                self._deliveries[key] = kept
            else:
                del self._deliveries[key]
        stale = [c for c in self._clicks.values() if c.received < cutoff]
        for click in stale:
            del self._clicks[click.event_id]
        for index, key_of in ((self._by_message, _message_of), (self._by_ip, _ip_of)):
            for key in {key_of(c) for c in stale} - {""}:
                fresh = _Timeline()
                for click in index[key].items:
                    if click.received >= cutoff:
                        fresh.add(click)
                if fresh.items:
                    index[key] = fresh
                else:
                    del index[key]
        return removed + len(stale)


def _message_of(click: ClickRecord) -> str:
    return click.message_key


def _ip_of(click: ClickRecord) -> str:
    return click.ip


# Portable to PostgreSQL: DOUBLE PRECISION (not REAL, which is 4 bytes there) and
# INSERT ... ON CONFLICT DO NOTHING; only the `?` placeholders need translating.
SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS bot_deliveries (
    message_key TEXT NOT NULL,
    occurred DOUBLE PRECISION NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (message_key, occurred)
);
CREATE INDEX IF NOT EXISTS bot_deliveries_received ON bot_deliveries (received);
CREATE TABLE IF NOT EXISTS bot_clicks (
    event_id TEXT PRIMARY KEY,
    message_key TEXT NOT NULL,
    link_key TEXT NOT NULL,
    recipient_key TEXT NOT NULL,
    ip TEXT NOT NULL,
    network TEXT NOT NULL,
    occurred DOUBLE PRECISION NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    evidence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bot_clicks_message ON bot_clicks (message_key, occurred);
CREATE INDEX IF NOT EXISTS bot_clicks_ip ON bot_clicks (ip, occurred);
CREATE INDEX IF NOT EXISTS bot_clicks_received ON bot_clicks (received);
"""

_CLICK_COLUMNS = (
    "event_id, message_key, link_key, recipient_key, ip, network, occurred, received, evidence"
)


class SqliteState:
    """Evidence in the service's database. Executes on `conn`; the caller owns commits."""

    def __init__(self, conn: sqlite3.Connection, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.conn = conn
        self.ttl_seconds = ttl_seconds

    def record_delivery(self, message_key: str, occurred: float, received: float) -> None:
        self.conn.execute(
            "INSERT INTO bot_deliveries (message_key, occurred, received) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (message_key, occurred, received),
        )

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        row = self.conn.execute(
            "SELECT occurred, received FROM bot_deliveries WHERE message_key = ? "
            "AND received <= ? ORDER BY occurred LIMIT 1",
            (message_key, received_by),
        ).fetchone()
        return DeliveryRecord(float(row[0]), float(row[1])) if row else None

    def record_click(self, click: ClickRecord) -> None:
        self.conn.execute(
            f"INSERT INTO bot_clicks ({_CLICK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT DO NOTHING",
            tuple(click),
        )

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        rows = self.conn.execute(
            f"SELECT {_CLICK_COLUMNS} FROM bot_clicks WHERE message_key = ? "  # noqa: S608
            "AND occurred >= ? AND occurred <= ? AND received <= ? ORDER BY occurred, event_id",
            (message_key, start, end, received_by),
        ).fetchall()
        return [_click(row) for row in rows]

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        row = self.conn.execute(
            "SELECT COUNT(DISTINCT recipient_key) FROM bot_clicks WHERE ip = ? "
            "AND occurred >= ? AND occurred <= ? AND received <= ?",
            (ip, start, end, received_by),
        ).fetchone()
        return int(row[0])

    def prune(self, now: float) -> int:
        cutoff = now - self.ttl_seconds
        removed = 0
        for table in ("bot_deliveries", "bot_clicks"):
            cursor = self.conn.execute(f"DELETE FROM {table} WHERE received < ?", (cutoff,))  # noqa: S608
            removed += max(cursor.rowcount, 0)
        return removed


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
