"""The PostgreSQL store: a small connection pool and group-committing writer threads.

The schema is `migrations/postgresql/` (applied by yoyo when the store opens). Writes work
as in the SQLite store (`sqlite_writer.py`): callers submit functions of a `Tx`; a writer
thread runs everything waiting (up to `max_batch`) in one transaction on its own pooled
connection, COMMITs once and answers every caller. If any function raises, the transaction
is rolled back and the batch replayed one function per transaction, so one caller never
takes another's writes with it. Several writer threads share the queue: while one waits for
its COMMIT's fsync another fills the next batch, and PostgreSQL's row locks (`FOR UPDATE
SKIP LOCKED` in the claims) keep their transactions, and other processes', apart.

The connection URL's password never reaches a log line or an exception we raise: messages
name the server by `describe(url)`, and any text from the driver is scrubbed of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from connector.errors import StorageUnavailable
from connector.storage.answers import Outcome, answer
from connector.storage.base import IngestBatch, IngestOutcome
from connector.storage.migrate import NewerSchema, migrate
from connector.storage.postgres_notify import Notifier, listen
from connector.storage.postgres_tx import PgTx
from connector.storage.postgres_writer import Batch, Job, Lost, Optimism

T = TypeVar("T")
_CONNECTION_PARTS = ("user", "password", "host", "port", "dbname")
# How long a batch waits for a connection: a writer holds one at most and the pool has one
# more than the writers, so only a server that is down (or restarting) makes it wait; then
# the batch is answered 503 within an ESP's timeout (the pool's 10 s default was longer
# than many ESPs wait, so requests hung instead).
CONNECT_WAIT = 2.0
log = logging.getLogger("connector.storage.postgres")


def describe(url: str) -> str:
    """The URL without its password, for messages: `postgresql://user@host:port/db`."""
    try:
        parts = pg_conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparseable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def yoyo_url(url: str) -> str:
    """The same server for yoyo's psycopg 3 backend; other settings become query arguments."""
    parts = {k: str(v) for k, v in pg_conninfo.conninfo_to_dict(url).items() if v is not None}
    auth = quote(parts.get("user", ""), safe="")
    if "password" in parts:
        auth += ":" + quote(parts["password"], safe="")
    netloc = (auth + "@" if auth else "") + parts.get("host", "")
    if "port" in parts:
        netloc += ":" + parts["port"]
    extra = urlencode({k: v for k, v in parts.items() if k not in _CONNECTION_PARTS})
    dbname = quote(parts.get("dbname", ""), safe="")
    return f"postgresql+psycopg://{netloc}/{dbname}" + (f"?{extra}" if extra else "")


class PgStore:
    """`Store` on a PostgreSQL database shared by any number of processes."""

    # Writer threads, each on its own pooled connection while it commits. Two, measured: a
    # burst alone ran as fast with one (~8-12k ingests/s here), but on a busy machine one
    # writer stalled at each round trip (1.3k/s against 3.0k/s with two), and a long batch
    # (a check firing 500 recipients) would hold every acknowledgement behind it.
    writers = 2
    max_batch = 100  # jobs per transaction: the group-commit ceiling measured while planning

    def __init__(
        self, url: str, *, bot_ttl_seconds: float | None = None, pool_size: int = 8
    ) -> None:
        self.url = url
        self.bot_ttl_seconds = bot_ttl_seconds
        self.target = describe(url)
        self._password = str(pg_conninfo.conninfo_to_dict(url).get("password") or "")
        self.pool_size = max(pool_size, 2)
        self._pool = self._new_pool()
        self._jobs: queue.SimpleQueue[list[Job] | None] = queue.SimpleQueue()
        self._waiting: dict[asyncio.AbstractEventLoop, list[Job]] = {}
        self._threads: list[threading.Thread] = []
        self.optimism = Optimism()
        self.notifier = Notifier(url, self.scrub)

    # lifecycle ---------------------------------------------------------------------------
    def _new_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        return ConnectionPool(
            self.url,
            min_size=2,
            max_size=self.pool_size,
            kwargs={"autocommit": False},
            open=False,
            name="connector",
            timeout=10.0,
        )

    async def open(self) -> None:
        await asyncio.to_thread(self.open_sync)

    def open_sync(self) -> None:
        if self._threads:
            return
        try:
            migrate("postgresql", yoyo_url(self.url))
            self._pool = self._new_pool()  # a closed pool cannot be opened again
            self._pool.open(wait=True, timeout=10.0)
        except NewerSchema:
            raise
        except StorageUnavailable as error:  # migrate names only the error's kind
            raise StorageUnavailable(f"{error.message}: {self.target}") from None
        except Exception as error:  # the driver's and yoyo's errors, scrubbed
            self._pool.close()
            raise self.unavailable("cannot open database", error) from None
        count = max(1, min(self.writers, self._pool.max_size - 1))
        self._threads = [
            threading.Thread(target=self._run, name=f"pg-writer-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()

    async def close(self) -> None:
        await self.notifier.close()
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        if not self._threads:
            return
        for loop in list(self._waiting):  # submitted this turn: still run before stopping
            self._hand_over(loop)
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
        with contextlib.suppress(queue.Empty):  # submitted while stopping: nobody will run it
            while (jobs := self._jobs.get_nowait()) is not None:
                answer(jobs, [(None, StorageUnavailable("storage is not open"))] * len(jobs))
        self._pool.close()

    # transactions ------------------------------------------------------------------------
    async def transaction(self, fn: Callable[[PgTx], T], *, durable: bool = True) -> T:
        """Run `fn` in the next group commit. `durable=False`: a commit made only of such
        jobs does not wait for its WAL flush (`synchronous_commit = off`); a power loss may
        undo it, never half of it, and the background loops redo or retry that work."""
        if not self._threads:
            raise StorageUnavailable("storage is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._hand_over, loop)
        waiting.append(Job(self._bind(fn), future, loop, durable))
        return await future

    async def ingest(self, batch: IngestBatch) -> IngestOutcome:
        """An ingest the writer may merge with the others of its commit: their events go in
        one INSERT (per-statement work, not the commit, dominated the server's CPU per
        webhook: bench/README.md "PostgreSQL and replicas")."""
        if not self._threads:
            raise StorageUnavailable("storage is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestOutcome] = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._hand_over, loop)
        fn = self._bind(lambda tx: tx.ingest(batch))
        mergeable = batch if batch.nonce is None else None  # a nonce needs its own check
        waiting.append(Job(fn, future, loop, True, mergeable))
        outcome = await future
        if outcome.new:
            self.notifier.poke()
        return outcome

    async def watch(self, wake: Callable[[], None]) -> None:
        """Wakes on any process's new events (`LISTEN`, postgres_notify.py)."""
        await listen(self.url, wake, self.scrub)

    def transaction_sync(self, fn: Callable[[PgTx], T]) -> T:
        future: Future[T] = Future()
        if not self._threads:
            raise StorageUnavailable("storage is not open")
        self._jobs.put([Job(self._bind(fn), future)])
        return future.result()

    async def ping(self) -> bool:
        return await asyncio.to_thread(self._ping)

    def _ping(self) -> bool:
        try:
            with self._pool.connection(timeout=CONNECT_WAIT) as conn:
                row = conn.execute("SELECT 1").fetchone()
                conn.rollback()
                return row is not None and row[0] == 1
        except Exception:
            return False

    def _bind(self, fn: Callable[[PgTx], T]) -> Callable[[psycopg.Connection[Any]], T]:
        ttl = self.bot_ttl_seconds
        return lambda conn: fn(PgTx(conn, ttl))

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Everything this loop submitted in one turn goes to the writers as one item."""
        jobs = self._waiting.pop(loop, None)
        if not jobs:
            return
        if not self._threads:
            answer(jobs, [(None, StorageUnavailable("storage is not open"))] * len(jobs))
            return
        for start in range(0, len(jobs), self.max_batch):  # a burst is shared by the writers
            self._jobs.put(jobs[start : start + self.max_batch])

    # the writer threads ------------------------------------------------------------------
    def _run(self) -> None:
        while (first := self._jobs.get()) is not None:
            batch = list(first)
            stopping = self._drain_into(batch)
            answer(batch, self._commit(batch))
            if stopping:
                return

    def _drain_into(self, batch: list[Job]) -> bool:
        while len(batch) < self.max_batch:
            try:
                jobs = self._jobs.get_nowait()
            except queue.Empty:
                return False
            if jobs is None:
                return True
            batch.extend(jobs)
        return False

    def _commit(self, batch: list[Job]) -> list[Outcome]:
        """One transaction for the batch; on a failure, each job in a transaction of its own.

        A connection lost before COMMIT was sent is retried once on a fresh one (nothing
        was committed); lost during COMMIT, the outcome is unknown and callers are told the
        storage is unavailable (the ESP retries; ingest de-duplicates by event id).
        """
        for attempt in range(2):
            try:
                conn = self._pool.getconn(timeout=CONNECT_WAIT)
            except (PoolTimeout, psycopg.OperationalError) as error:
                return [(None, self.unavailable("database unreachable", error))] * len(batch)
            try:
                return Batch(self, conn, batch).run()
            except Lost as lost:
                if lost.committing or attempt:
                    return [(None, lost.error)] * len(batch)
                self._pool.check()  # a server restart breaks every idle connection at once
            finally:
                self._pool.putconn(conn)  # a broken one is replaced
        raise AssertionError("unreachable")  # pragma: no cover

    def unavailable(self, what: str, error: BaseException) -> StorageUnavailable:
        """`StorageUnavailable` naming the server, never its password."""
        text = self.scrub(f"{type(error).__name__}: {error}".strip())
        return StorageUnavailable(f"{what} ({self.target}): {text}"[:500])

    def scrub(self, text: str) -> str:
        """`text` without the database password."""
        return text.replace(self._password, "***") if self._password else text
