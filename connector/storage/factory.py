"""Builds the store `storage.url` names: the one place that knows which backends exist.

The web app, the worker process and the CLI all call `open_store`, so none of them imports
a backend (and nothing above `connector/storage/` imports sqlite3 or psycopg).
"""

from __future__ import annotations

from connector.settings import Settings
from connector.storage.base import Store


def open_store(
    settings: Settings, *, synchronous: str | None = None, yield_ratio: float = 0.0
) -> Store:
    """The configured store, not yet opened. `synchronous`: SQLite's commit durability for
    this process (a worker's commits can be redone, so it passes NORMAL); `yield_ratio`:
    how a background writer gives way to a busy peer on SQLite (see sqlite_writer.py)."""
    storage = settings.storage
    ttl = settings.bots.state_ttl_seconds
    if storage.backend == "postgresql":
        from connector.storage.postgres import PgStore

        return PgStore(storage.url, bot_ttl_seconds=ttl, pool_size=storage.pool_size)
    from connector.storage.sqlite import SqliteStore

    return SqliteStore(
        storage.sqlite_path,
        synchronous=synchronous or storage.synchronous,
        bot_ttl_seconds=ttl,
        yield_ratio=yield_ratio,
    )
