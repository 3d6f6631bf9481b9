"""The embedded SQLite store: one file, WAL, a group-committing writer thread.

Tables: `events` (inbox + dedup by id + the routing decision), `rejections`, `nonces`
(replay protection where a provider's signature does not cover the body), `deliveries`
(outbox and dead letters), `attempts` (every delivery attempt), `tasks` (control work such
as SNS subscription confirmations), the scenario engine's `recipients`, `clicks`, `timers`
and `entries` (sqlite_scenarios.py) and the bot detector's own `bot_*` tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from connector.storage.base import IngestBatch, IngestOutcome
from connector.storage.migrate import migrate
from connector.storage.sqlite_tx import SqliteTx
from connector.storage.sqlite_writer import SqliteWriter

T = TypeVar("T")

# Version 1 of the core tables, as migration 0001 (migrations/sqlite/) applies them; change
# the schema with a new migration file, never here.
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    occurred_at REAL NOT NULL,
    received_at REAL NOT NULL,
    payload BLOB NOT NULL,
    raw BLOB NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    bot BLOB,
    settle_at REAL,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_pending ON events (seq) WHERE processed = 0;
DROP INDEX IF EXISTS events_settle;
CREATE INDEX IF NOT EXISTS events_unsettled ON events (settle_at)
    WHERE settled = 0 AND settle_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
CREATE TABLE IF NOT EXISTS rejections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    item_index INTEGER NOT NULL,
    reason TEXT NOT NULL,
    raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    source TEXT NOT NULL,
    nonce TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (source, nonce)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    rule_ids TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    lease_until REAL,
    first_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, updated_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts (delivery_id);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    data BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT
);
"""


class SqliteStore:
    """`Store` on one SQLite file; all writes go through one group-committing thread."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        bot_ttl_seconds: float | None = None,
        yield_ratio: float = 0.0,
    ) -> None:
        self.path = path
        self.bot_ttl_seconds = bot_ttl_seconds
        self._writer = SqliteWriter(path, synchronous=synchronous, yield_ratio=yield_ratio)
        self._open = False

    async def open(self) -> None:
        self.open_sync()

    def open_sync(self) -> None:
        if not self._open:
            self._writer.start(self._migrate)
            self._open = True

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Schema migrations, run under the writers' lock before any job (see migrate.py)."""
        migrate("sqlite", f"sqlite:///{self.path.resolve()}")

    async def close(self) -> None:
        self.close_sync()

    def close_sync(self) -> None:
        if self._open:
            self._writer.stop()
            self._open = False

    async def transaction(self, fn: Callable[[SqliteTx], T], *, durable: bool = True) -> T:
        return await self._writer.run(
            lambda conn: fn(SqliteTx(conn, self.bot_ttl_seconds)), durable=durable
        )

    async def ingest(self, batch: IngestBatch) -> IngestOutcome:
        return await self.transaction(lambda tx: tx.ingest(batch))

    def transaction_sync(self, fn: Callable[[SqliteTx], T]) -> T:
        return self._writer.submit(lambda conn: fn(SqliteTx(conn, self.bot_ttl_seconds))).result()

    async def watch(self, wake: Callable[[], None]) -> None:
        """Nothing to watch: one file, and the web process wakes its worker through a pipe."""

    async def ping(self) -> bool:
        try:
            return await self._writer.run(lambda conn: conn.execute("SELECT 1").fetchone()[0] == 1)
        except Exception:
            return False
