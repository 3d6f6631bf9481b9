"""A single writer thread that group-commits SQLite work from many callers.

Callers submit functions; the thread runs everything waiting (up to `max_batch`) in one
transaction, each inside its own SAVEPOINT so one caller's failure rolls back only its own
writes, then COMMITs once and answers every caller. Nothing fsyncs on the event loop, and
concurrent webhooks share one fsync (see shared/PERF.md: group commit is what makes durable
ingest ~2x faster than per-request commits).
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from connector.errors import StorageUnavailable

T = TypeVar("T")


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any]


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
        future: Future[T] = Future()
        if self._thread is None:
            future.set_exception(StorageUnavailable("storage is not open"))
        else:
            self._jobs.put(_Job(fn, future))
        return future

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

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
                self._commit(conn, batch)
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

    def _commit(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        results: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                results.append(self._run_job(conn, job))
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StorageUnavailable(f"database error: {error}")
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(failure)
            return
        for job, value, failed in results:
            if failed is None:
                job.future.set_result(value)
            else:
                job.future.set_exception(failed)

    @staticmethod
    def _run_job(conn: sqlite3.Connection, job: _Job) -> tuple[_Job, Any, BaseException | None]:
        conn.execute("SAVEPOINT job")
        try:
            value = job.fn(conn)
        except sqlite3.OperationalError:
            raise  # the database itself is failing: abandon the whole batch
        except Exception as error:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return job, None, error
        conn.execute("RELEASE job")
        return job, value, None
