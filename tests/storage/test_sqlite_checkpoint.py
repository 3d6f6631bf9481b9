"""The log's checkpoints run on their own thread: committed pages reach the database file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from connector.storage.sqlite_checkpoint import Checkpointer


def _grows(path: Path, beyond: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.stat().st_size > beyond:
            return True
        time.sleep(0.01)
    return False


def test_a_commit_is_checkpointed_by_the_thread(tmp_path: Path) -> None:
    """With SQLite's own checkpoint off, a committed 100 kB row reaches the database file."""
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (v BLOB)")
    checkpointer = Checkpointer(path, interval=0.01)
    checkpointer.start()
    try:
        before = path.stat().st_size
        conn.execute("INSERT INTO t VALUES (randomblob(100000))")
        checkpointer.committed()
        assert _grows(path, before + 90_000)
    finally:
        checkpointer.stop()
        conn.close()


def test_stop_is_prompt_and_idempotent(tmp_path: Path) -> None:
    """A checkpointer waiting out its interval stops at once, and a second stop is a no-op."""
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    checkpointer = Checkpointer(path, interval=60)
    checkpointer.start()
    checkpointer.committed()
    started = time.monotonic()
    checkpointer.stop()
    checkpointer.stop()
    assert time.monotonic() - started < 5
