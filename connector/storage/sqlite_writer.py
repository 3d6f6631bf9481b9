"""A single writer thread that group-commits SQLite work from many callers.

Callers submit functions; the thread runs everything waiting (up to `max_batch`) in one
transaction, COMMITs once and answers every caller. Nothing fsyncs on the event loop, and
concurrent webhooks share one fsync (measured while planning: group commit is what makes
durable ingest ~2x faster than per-request commits).

Isolation: if one caller's function raises, the whole transaction is rolled back and the
batch is replayed with each function in its own transaction, so a failing caller never
takes another's writes with it and never leaves half of its own. Failures are rare
(a replayed nonce, a bug), so the common path pays for no savepoints.

Between processes (the web server and its worker process share the file), each write
transaction also holds an `flock` on a lock file beside the database. SQLite alone would
make a waiting writer poll with sleeps of up to 100 ms, and a writer that commits and
begins again at once could starve the other; a kernel lock wakes the waiter the moment the
holder is done, so acknowledging webhooks never queues behind a busy worker for long.

A background writer (the worker process's: `yield_ratio` > 0) yields to a busy peer. It
pauses `yield_ratio` times as long as it held the lock (at most `MAX_YIELD_SECONDS`) before
its next transaction when the web process is saturated, seen either way:
- it had to wait for the lock at the start of its second commit in a row, or
- the web waited for the lock at the end of `PEER_STREAK` of its commits in a row: a process
  that blocks on the lock holds a second lock file, `<db>.want`, shared while it waits, and
  the holder tests it before releasing (`sqlite_jobs.peer_waiting`). The worker holds the
  lock for most of its run (its routing happens inside its transactions) and at nice 10 is
  preempted inside them, so the web, not the worker, is the one that waits.
One wait is a chance meeting at light load, where a pause would only delay the next click;
short holds (under `MIN_YIELD_HOLD_SECONDS`: routing a few events as they arrive) never
pause. So under load the worker's share of the lock is bounded to 1 / (1 + yield_ratio),
and when the web process is idle it runs flat out. bench/README.md ("Default layout,
session 14"): the web's wait as a signal, with a 0.1 s cap, took the default layout from
0.30 to 0.37x bare (detector on) with click-to-action latency at 200/s unchanged.

Hand-offs are batched both ways: durable jobs submitted until a turn of an event loop that
adds none (gather.py: a burst of requests read over a few turns is one group commit) reach
the thread as one queue item (waking a thread is a syscall plus a GIL hand-over), and answers go
back with one `call_soon_threadsafe` per batch and loop, not one per caller.

The log's checkpoints run on a thread of their own (sqlite_checkpoint.py), not inside a
commit that callers wait for.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from connector.errors import StorageUnavailable
from connector.storage.answers import Outcome, answer
from connector.storage.gather import Gathering
from connector.storage.sqlite_checkpoint import BACKSTOP_PAGES, Checkpointer
from connector.storage.sqlite_jobs import Job, locked, peer_waiting, rollback, transaction

T = TypeVar("T")
MAX_YIELD_SECONDS = 0.1
MIN_YIELD_HOLD_SECONDS = 0.002
PEER_STREAK = 3  # commits in a row at whose end the web process waited: it is saturated


class SqliteWriter:
    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "FULL",
        max_batch: int = 100,
        yield_ratio: float = 0.0,
    ) -> None:
        self._path = path
        self._yield_ratio = yield_ratio
        self._yield_for = 0.0
        self._streak = 0  # contended long holds in a row
        self._peer_streak = 0  # long holds in a row at whose end the other process waited
        self._synchronous = synchronous
        self._in_force = synchronous  # the connection's level for its next commit
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[list[Job] | None] = queue.SimpleQueue()
        self._waiting: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        self._gathering: dict[asyncio.AbstractEventLoop, Gathering] = {}
        self._thread: threading.Thread | None = None
        self._ready: Future[None] = Future()
        self._lock_fd = -1
        self._want_fd = -1
        self._checkpointer = Checkpointer(path)  # the log's checkpoints, off the commits

    def start(self, setup: Callable[[sqlite3.Connection], None]) -> None:
        """Open the database in the writer thread and run `setup` (schema) before any job."""
        self._ready = Future()
        self._thread = threading.Thread(
            target=self._run, args=(setup,), name="sqlite-writer", daemon=True
        )
        self._thread.start()
        self._ready.result()
        self._checkpointer.start()

    def stop(self) -> None:
        if self._thread is not None:
            for loop in list(self._waiting):  # submitted this turn: still run before stopping
                self._hand_over(loop, now=True)
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
            self._checkpointer.stop()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """For threads without an event loop (the CLI): a concurrent future."""
        future: Future[T] = Future()
        if self._thread is None:
            future.set_exception(StorageUnavailable("storage is not open"))
        else:
            self._jobs.put([Job(fn, future)])
        return future

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run `fn` in a write transaction, in the next group commit.

        `durable=False` (the background loops' bookkeeping) lets a commit made only of such
        jobs skip its fsync (`synchronous=NORMAL`): a power loss can then undo it, but never
        half of it, and the work is redone (routing) or retried under the same webhook-id
        (deliveries). The next durable commit syncs the log, these commits included. Under
        load those fsyncs kept acknowledgements waiting behind background work.
        """
        if self._thread is None:
            raise StorageUnavailable("storage is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._hand_over, loop)
        waiting.append(Job(fn, future, loop, durable))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop, now: bool = False) -> None:
        """Everything this loop submitted goes to the thread as one item: durable work (what
        requests wait for) at the first turn that added none (gather.py), background
        bookkeeping at the end of this turn."""
        jobs = self._waiting.get(loop)
        if jobs and not now and all(job.durable for job in jobs):
            gathering = self._gathering.setdefault(loop, Gathering())
            if not gathering.settled(len(jobs), self._max_batch):
                loop.call_soon(self._hand_over, loop)
                return
        self._gathering.pop(loop, None)
        jobs = self._waiting.pop(loop, None)
        if not jobs:
            return
        if self._thread is None:
            answer(jobs, [(None, StorageUnavailable("storage is not open"))] * len(jobs))
        else:
            self._jobs.put(jobs)

    def connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # sqlite_checkpoint.py
        return conn

    def _run(self, setup: Callable[[sqlite3.Connection], None]) -> None:
        try:
            conn = self.connect()
        except BaseException as error:  # report start-up failure to the caller
            self._ready.set_exception(StorageUnavailable(f"cannot open database: {error}"))
            return
        try:
            lock_fd, want_fd = self._open_lock_files()
        except OSError as error:
            conn.close()
            self._ready.set_exception(StorageUnavailable(f"cannot open lock file: {error}"))
            return
        try:
            with locked(lock_fd, want_fd):
                setup(conn)
        except BaseException as error:
            conn.close()
            os.close(lock_fd)
            os.close(want_fd)
            self._ready.set_exception(StorageUnavailable(f"cannot open database: {error}"))
            return
        self._lock_fd, self._want_fd = lock_fd, want_fd
        self._ready.set_result(None)
        try:
            while (first := self._jobs.get()) is not None:
                batch = list(first)
                stopping = self._drain_into(batch)
                answer(batch, self._commit(conn, batch))
                self._checkpointer.committed()
                if stopping:
                    break
                if self._yield_for:
                    time.sleep(min(self._yield_for, MAX_YIELD_SECONDS))
                    self._yield_for = 0.0
        finally:
            conn.close()
            os.close(lock_fd)
            os.close(want_fd)

    def _open_lock_files(self) -> tuple[int, int]:
        """`<db>.lock`, held while writing, and `<db>.want`, held shared while waiting for it."""
        lock_fd = os.open(f"{self._path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            return lock_fd, os.open(f"{self._path}.want", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            os.close(lock_fd)
            raise

    def _drain_into(self, batch: list[Job]) -> bool:
        while len(batch) < self._max_batch:
            try:
                jobs = self._jobs.get_nowait()
            except queue.Empty:
                return False
            if jobs is None:
                return True
            batch.extend(jobs)
        return False

    def _commit(self, conn: sqlite3.Connection, batch: list[Job]) -> list[Outcome]:
        """Run the batch in one transaction; on any failure, replay it job by job."""
        self._set_level(conn, any(job.durable for job in batch))
        try:
            with locked(self._lock_fd, self._want_fd) as contended:
                started = time.perf_counter()
                values = transaction(conn, [job.fn for job in batch])
                waited = self._yield_ratio > 0 and peer_waiting(self._want_fd)
            held = time.perf_counter() - started
            long_hold = held >= MIN_YIELD_HOLD_SECONDS
            self._streak = self._streak + 1 if contended and long_hold else 0
            self._peer_streak = self._peer_streak + 1 if waited and long_hold else 0
            # sustained, not a chance meeting
            if self._yield_ratio and (self._streak >= 2 or self._peer_streak >= PEER_STREAK):
                self._yield_for = held * self._yield_ratio
            return [(value, None) for value in values]
        except sqlite3.Error as error:
            rollback(conn)
            if isinstance(error, sqlite3.OperationalError) or len(batch) == 1:
                failure = StorageUnavailable(f"database error: {error}")
                return [(None, failure) for _ in batch]
        except Exception as error:
            rollback(conn)
            if len(batch) == 1:
                return [(None, error)]
        return [self._alone(conn, job) for job in batch]

    def _set_level(self, conn: sqlite3.Connection, durable: bool) -> None:
        """The configured `synchronous` for a commit holding a durable job, else NORMAL."""
        wanted = self._synchronous if durable else "NORMAL"
        if wanted != self._in_force:
            conn.execute(f"PRAGMA synchronous={wanted}")
            self._in_force = wanted

    def _alone(self, conn: sqlite3.Connection, job: Job) -> Outcome:
        self._set_level(conn, job.durable)
        try:
            with locked(self._lock_fd, self._want_fd):
                return transaction(conn, [job.fn])[0], None
        except sqlite3.Error as error:
            rollback(conn)
            return None, StorageUnavailable(f"database error: {error}")
        except Exception as error:
            rollback(conn)
            return None, error
