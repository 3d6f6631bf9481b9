"""Checkpoints of SQLite's write-ahead log on a thread of their own, off the commit path.

SQLite's automatic checkpoint runs inside the COMMIT that takes the log past 1,000 pages:
that commit copies the log's pages into the database file and syncs it while every caller
of its group commit waits, and the event loop, with nothing else to do, leaves the core
idle. Here a thread with its own connection runs a PASSIVE checkpoint (it neither blocks
the writer nor waits for it) shortly after commits, so the copying runs while the writer
thread waits on its own fsync or the loop parses requests. The writer keeps an automatic
checkpoint at `BACKSTOP_PAGES` should this thread fall behind. Nothing changes for
durability: a commit is durable in the log, and a checkpoint only moves committed pages.
bench/README.md ("Trigger-link redirect"): the COMMIT calls' total time -10 %, those over
5 ms 89-96 -> 63-78 per run.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from pathlib import Path

INTERVAL_SECONDS = 0.05  # at most one checkpoint this often while commits go on
BACKSTOP_PAGES = 4000  # the writer's own automatic checkpoint, should this one lag


class Checkpointer:
    def __init__(self, path: Path, interval: float = INTERVAL_SECONDS) -> None:
        self._path = path
        self._interval = interval
        self._due = threading.Event()  # a commit since the last checkpoint
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """The writer committed: a checkpoint within the interval (a flag test, not a lock,
        while one is already due)."""
        if not self._due.is_set():
            self._due.set()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._due.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error:
            return  # the writer's automatic checkpoint (the backstop) does the work
        try:
            while self._due.wait() and not self._stopping.wait(self._interval):
                self._due.clear()
                # `stop()` sets `_stopping`, then `_due`: if its `_due` landed before the
                # clear above, only `_stopping` is left to say so, and waiting on `_due`
                # again would never end (an app's shutdown hung in `stop`'s join).
                if self._stopping.is_set():
                    break
                checkpoint(conn)
        finally:
            conn.close()


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copy what the log holds into the database, as far as readers allow, without waiting."""
    # Busy (another process's checkpoint) or gone: the next commit asks again.
    with contextlib.suppress(sqlite3.Error):
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
