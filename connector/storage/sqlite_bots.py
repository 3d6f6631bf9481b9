"""Bot evidence in the service's SQLite database, read through an in-process mirror.

`SqliteState(conn)` executes on the caller's connection and never commits. Every write goes
to SQLite at once and to the connection's `Mirror` (`mirror.py`, obtained and validated by
`sqlite_bot_mirrors.py` once per instance, i.e. per transaction), which answers the reads: a click
costs one INSERT and no SELECT; a key the mirror lacks is read in full on first use.
Writes stay synchronous: deferring them to one `executemany` per batch measured ~3 us a row
cheaper, but would need the caller to flush before committing and would lose the INSERT's
exact duplicate check (`rowcount`).

Triggers count every row change to the bot tables in `bot_version`, whoever makes it, and
each write here adds the rows it changed to the mirror's expected count: a difference is
another writer's evidence. Commits to other tables (an ingest process beside the detector's
makes hundreds a second) thus no longer discard the mirror, as `PRAGMA data_version` did.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from connector.bots.mirror import Mirror
from connector.bots.records import (
    DEFAULT_TTL_SECONDS,
    ClickRecord,
    DeliveryRecord,
    MessageRows,
    Snapshot,
    Timeline,
    snapshot,
)
from connector.storage.sqlite_bot_mirrors import attach, mark

# Portable to PostgreSQL: DOUBLE PRECISION (not REAL, which is 4 bytes there) and
# INSERT ... ON CONFLICT DO NOTHING; only the `?` placeholders, `OR FAIL` and the change
# counter's triggers (SQLite syntax) need translating.
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
CREATE TABLE IF NOT EXISTS bot_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT OR IGNORE INTO bot_version VALUES (1, 0);
"""

# One bump of `bot_version` per row changed in a bot table, whoever changes it
# (sqlite_bot_mirrors.py).
SQLITE_SCHEMA += "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_{change.lower()} AFTER {change} ON {table}"
    " FOR EACH ROW BEGIN UPDATE bot_version SET version = version + 1 WHERE id = 1; END;\n"
    for table in ("bot_deliveries", "bot_clicks")
    for change in ("INSERT", "UPDATE", "DELETE")
)

_COLUMNS = (
    "event_id, message_key, link_key, recipient_key, ip, network, occurred, received, evidence"
)
# OR FAIL: on a table with triggers SQLite's default, OR ABORT, keeps a statement journal (a
# copy of each page an INSERT touches, ~4 us a click in the replay) to undo a failed
# statement's earlier changes. A one-row INSERT has none: NOT NULL, the only check that can
# fail, comes before the row and its trigger.
_INSERT_CLICK = (
    f"INSERT OR FAIL INTO bot_clicks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_INSERT_DELIVERY = (
    "INSERT OR FAIL INTO bot_deliveries (message_key, occurred, received) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
_MESSAGE_DELIVERIES = "SELECT occurred, received FROM bot_deliveries WHERE message_key = ?"
_MESSAGE_CLICKS = f"SELECT {_COLUMNS} FROM bot_clicks WHERE message_key = ?"
_IP_CLICKS = f"SELECT {_COLUMNS} FROM bot_clicks WHERE ip = ?"


class SqliteState:
    """Evidence in the service's database. Executes on `conn`; the caller owns commits."""

    def __init__(self, conn: sqlite3.Connection, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.conn = conn
        self.ttl_seconds = ttl_seconds
        self._mirror: Mirror | None = None
        self._marked = False

    def record_delivery(self, message_key: str, occurred: float, received: float) -> None:
        mirror = self._writing()
        cursor = self.conn.execute(_INSERT_DELIVERY, (message_key, occurred, received))
        mirror.changed(cursor.rowcount)
        rows = mirror.messages.for_write(message_key)
        if rows is None:
            self._load_message(mirror, message_key)
        elif cursor.rowcount == 1 and rows.deliveries.add(DeliveryRecord(occurred, received)):
            mirror.messages.grew()

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        rows = (self._mirror or self._synced()).messages.get(message_key)
        if rows is None:
            rows = self._load_message(self._synced(), message_key)
        return rows.deliveries.earliest(received_by)

    def record_click(self, click: ClickRecord) -> None:
        mirror = self._writing()
        added = self.conn.execute(_INSERT_CLICK, click).rowcount == 1
        mirror.changed(int(added))
        if click.message_key:
            rows = mirror.messages.for_write(click.message_key)
            if rows is None:
                self._load_message(mirror, click.message_key)
            elif added:
                rows.clicks.add(click)
                mirror.messages.grew()
        if click.ip:
            timeline = mirror.ips.for_write(click.ip)
            if timeline is None:
                self._load_ip(mirror, click.ip)
            elif added:
                timeline.add(click)
                mirror.ips.grew()

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        rows = (self._mirror or self._synced()).messages.get(message_key)
        if rows is None:
            rows = self._load_message(self._synced(), message_key)
        return rows.clicks.window(start, end, received_by)

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        timeline = (self._mirror or self._synced()).ips.get(ip)
        if timeline is None:
            timeline = self._load_ip(self._synced(), ip)
        return timeline.recipients(start, end, received_by)

    def prune(self, now: float) -> int:
        mirror = self._writing()
        cutoff = now - self.ttl_seconds
        removed = 0
        for table in ("bot_deliveries", "bot_clicks"):
            cursor = self.conn.execute(f"DELETE FROM {table} WHERE received < ?", (cutoff,))
            removed += max(cursor.rowcount, 0)
        mirror.changed(removed)
        mirror.prune(cutoff)
        return removed

    def snapshot(self, message_key: str, ip: str) -> Snapshot | None:
        mirror = self._mirror or self._synced()
        message = mirror.messages.peek(message_key) if message_key else None
        address = mirror.ips.peek(ip) if ip else None
        if (message is None and message_key) or (address is None and ip):
            return None  # not mirrored: only a read could tell
        return snapshot(message, address)

    def _load_message(self, mirror: Mirror, key: str) -> MessageRows:
        rows = MessageRows()
        for occurred, received in self.conn.execute(_MESSAGE_DELIVERIES, (key,)):
            rows.deliveries.add(DeliveryRecord(float(occurred), float(received)))
        for row in self.conn.execute(_MESSAGE_CLICKS, (key,)):
            rows.clicks.add(_click(row))
        mirror.messages.put(key, rows)
        return rows

    def _load_ip(self, mirror: Mirror, ip: str) -> Timeline:
        timeline = Timeline()
        for row in self.conn.execute(_IP_CLICKS, (ip,)):
            timeline.add(_click(row))
        mirror.ips.put(ip, timeline)
        return timeline

    def _synced(self) -> Mirror:
        mirror = self._mirror
        if mirror is None:
            mirror = self._mirror = attach(self.conn)
        return mirror

    def _writing(self) -> Mirror:
        """The mirror, once this instance's writes are marked in the transaction."""
        mirror = self._synced()
        if not self._marked:
            mark(self.conn, mirror)
            self._marked = True
        return mirror


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
