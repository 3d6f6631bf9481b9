"""A single writer thread that group-commits SQLite work from many callers.

Callers submit functions; the thread runs everything waiting (up to `max_batch`) in one
transaction, COMMITs once and answers every caller. Nothing fsyncs on the event loop, and
concurrent webhooks share one fsync (see shared/PERF.md: group commit is what makes durable
ingest ~2x faster than per-request commits).

Isolation: if one caller's function raises, the whole transaction is rolled back and the
batch is replayed with each function in its own transaction, so a failing caller never
takes another's writes with it and never leaves half of its own. Failures are rare
(a replayed nonce, a bug), so the common path pays for no savepoints.

Answers go back to asyncio callers with one `call_soon_threadsafe` per batch and loop, not
one per caller: waking the event loop is a syscall, and under load it was a visible share
of the per-request cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from connector.errors import StorageUnavailable

T = TypeVar("T")
_Outcome = tuple[Any, BaseException | None]


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None


class SqliteWriter:
    def __init__(self, path: Path, *, synchronous: str = "FULL", max_batch: int = 100) -> None:
        self._path = path
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready: Future[None] = Future()

    def start(self, setup: Callable[[sqlite3.Connection], None]) -> None:
        """Open the database in the writer thread and run `setup` (schema) before any job."""
        self._ready = Future()
        self._thread = threading.Thread(
            target=self._run, args=(setup,), name="sqlite-writer", daemon=True
        )
        self._thread.start()
        self._ready.result()

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """For threads without an event loop (the CLI): a concurrent future."""
        future: Future[T] = Future()
        if self._thread is None:
            future.set_exception(StorageUnavailable("storage is not open"))
        else:
            self._jobs.put(_Job(fn, future))
        return future

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            raise StorageUnavailable("storage is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop))
        return await future

    def connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _run(self, setup: Callable[[sqlite3.Connection], None]) -> None:
        try:
            conn = self.connect()
            setup(conn)
        except BaseException as error:  # report start-up failure to the caller
            self._ready.set_exception(StorageUnavailable(f"cannot open database: {error}"))
            return
        self._ready.set_result(None)
        try:
            while (first := self._jobs.get()) is not None:
                batch = [first]
                stopping = self._drain_into(batch)
                _answer(batch, self._commit(conn, batch))
                if stopping:
                    break
        finally:
            conn.close()

    def _drain_into(self, batch: list[_Job]) -> bool:
        while len(batch) < self._max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return False
            if job is None:
                return True
            batch.append(job)
        return False

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        """Run the batch in one transaction; on any failure, replay it job by job."""
        try:
            return [(value, None) for value in _transaction(conn, [job.fn for job in batch])]
        except sqlite3.Error as error:
            _rollback(conn)
            if isinstance(error, sqlite3.OperationalError) or len(batch) == 1:
                failure = StorageUnavailable(f"database error: {error}")
                return [(None, failure) for _ in batch]
        except Exception as error:
            _rollback(conn)
            if len(batch) == 1:
                return [(None, error)]
        return [self._alone(conn, job) for job in batch]

    @staticmethod
    def _alone(conn: sqlite3.Connection, job: _Job) -> _Outcome:
        try:
            return _transaction(conn, [job.fn])[0], None
        except sqlite3.Error as error:
            _rollback(conn)
            return None, StorageUnavailable(f"database error: {error}")
        except Exception as error:
            _rollback(conn)
            return None, error


def _transaction(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[Any]:
    conn.execute("BEGIN IMMEDIATE")
    values = [fn(conn) for fn in fns]
    conn.execute("COMMIT")
    return values


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _answer(batch: list[_Job], outcomes: list[_Outcome]) -> None:
    """Resolve every caller: concurrent futures directly, asyncio ones in one hop per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, _Outcome]]] = defaultdict(list)
    for job, outcome in zip(batch, outcomes, strict=True):
        if job.loop is None:
            _settle(job.future, outcome)
        else:
            by_loop[job.loop].append((job, outcome))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, pairs)


def _settle_all(pairs: list[tuple[_Job, _Outcome]]) -> None:
    for job, outcome in pairs:
        _settle(job.future, outcome)


def _settle(future: Future[Any] | asyncio.Future[Any], outcome: _Outcome) -> None:
    if future.done():  # an asyncio caller may have been cancelled meanwhile
        return
    value, error = outcome
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
