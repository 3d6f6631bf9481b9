"""The log's checkpoints run on their own thread: committed pages reach the database file."""

from __future__ import annotations

import sqlite3
import threading
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


class _StopLandsBeforeClear(threading.Event):
    """The `due` flag, holding the thread's `clear()` until `stop()` has set both flags: the
    interleaving that left the thread waiting on `due` for ever (a CI run hung at an app's
    shutdown, in `Checkpointer.stop`'s join)."""

    def __init__(self) -> None:
        super().__init__()
        self.clearing = threading.Event()
        self.stop_done = threading.Event()
        self.stopping: threading.Event | None = None

    def set(self) -> None:
        super().set()
        if self.stopping is not None and self.stopping.is_set():
            self.stop_done.set()

    def clear(self) -> None:
        self.clearing.set()
        self.stop_done.wait(5)
        super().clear()


def test_stop_between_the_wait_and_the_clear_still_ends_the_thread(tmp_path: Path) -> None:
    """`stop()` landing after the interval elapsed but before `due` is cleared: the thread
    sees it and ends, and `stop()` returns."""
    path = tmp_path / "store.db"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchall()
    checkpointer = Checkpointer(path, interval=0.01)
    due = checkpointer._due = _StopLandsBeforeClear()
    due.stopping = checkpointer._stopping
    checkpointer.start()
    checkpointer.committed()
    assert due.clearing.wait(5)  # the thread is between its interval and its clear
    stopper = threading.Thread(target=checkpointer.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive(), "stop() waits for a thread that will never wake"
