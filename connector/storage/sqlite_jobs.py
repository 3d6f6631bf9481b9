"""The pieces of one group commit: its jobs, the transaction, the lock between processes,
and answering each caller (sqlite_writer.py runs them on its thread)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

Outcome = tuple[Any, BaseException | None]


@dataclass(slots=True)
class Job:
    """One caller's work: its future is answered on its loop (None: a thread without one);
    `durable` work needs its commit synced (sqlite_writer.py's `run`)."""

    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None
    durable: bool = True


@contextlib.contextmanager
def locked(fd: int) -> Iterator[bool]:
    """Hold the lock between processes; yields whether another process held it first."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        contended = False
    except BlockingIOError:
        fcntl.flock(fd, fcntl.LOCK_EX)
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


def answer(batch: list[Job], outcomes: list[Outcome]) -> None:
    """Resolve every caller: concurrent futures directly, asyncio ones in one hop per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Job, Outcome]]] = defaultdict(list)
    for job, outcome in zip(batch, outcomes, strict=True):
        if job.loop is None:
            _settle(job.future, outcome)
        else:
            by_loop[job.loop].append((job, outcome))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, pairs)


def _settle_all(pairs: list[tuple[Job, Outcome]]) -> None:
    for job, outcome in pairs:
        _settle(job.future, outcome)


def _settle(future: Future[Any] | asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # an asyncio caller may have been cancelled meanwhile
        return
    value, error = outcome
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
