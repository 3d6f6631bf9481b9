"""The pieces of one group commit: its jobs, the transaction and the lock between processes
(sqlite_writer.py runs them on its thread; answers.py answers the callers)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Job:
    """One caller's work: its future is answered on its loop (None: a thread without one);
    `durable` work needs its commit synced (sqlite_writer.py's `run`)."""

    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None
    durable: bool = True


@contextlib.contextmanager
def locked(fd: int, want_fd: int = -1) -> Iterator[bool]:
    """Hold the lock between processes; yields whether another process held it first.

    While it waits, a process holds `want_fd` (a second lock file) shared, so the holder can
    tell that someone waits (`peer_waiting`). Uncontended, that costs nothing more."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        contended = False
    except BlockingIOError:
        if want_fd >= 0:
            fcntl.flock(want_fd, fcntl.LOCK_SH)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        finally:
            if want_fd >= 0:
                fcntl.flock(want_fd, fcntl.LOCK_UN)
        contended = True
    try:
        yield contended
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def transaction(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[Any]:
    """One transaction, rolled back before the caller's lock is released if anything fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        values = [fn(conn) for fn in fns]
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # keep the original error
            rollback(conn)
        raise
    return values


def rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def peer_waiting(want_fd: int) -> bool:
    """Whether another process waits for the lock this one holds (it holds `want` shared)."""
    try:
        fcntl.flock(want_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(want_fd, fcntl.LOCK_UN)
    return False
