"""The PostgreSQL store's writer side: jobs, one batch per transaction, and how failures
are told apart (a job's own error, a race worth running again, a lost connection).

A batch runs as one transaction; on any failure it is rolled back and each job runs alone,
so one caller never takes another's writes with it. Concurrent ingests in a batch are
merged into one INSERT (`PgTx.ingest_many`); a batch of nothing but plain ingests (events
only, the common case under load) is that INSERT alone, autocommitted: one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from connector.errors import StorageUnavailable
from connector.storage.answers import Outcome
from connector.storage.base import IngestBatch
from connector.storage.postgres_tx import PgTx


@dataclass(slots=True)
class Job:
    fn: Callable[[psycopg.Connection[Any]], Any]
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None
    durable: bool = True
    ingest: IngestBatch | None = None  # an ingest the batch may merge with others


@dataclass(slots=True)
class Optimism:
    """Whether plain ingests are tried as all-new (a store's, shared by its writers: a lost
    update between them only shifts when the next attempt comes)."""

    skip: int = 0  # batches left before the next all-new attempt
    patience: int = 100  # batches to skip after an attempt met a stored event


class _Owner(Protocol):
    """What a batch needs of its store."""

    bot_ttl_seconds: float | None
    optimism: Optimism

    def unavailable(self, what: str, error: BaseException) -> StorageUnavailable: ...


class Lost(Exception):
    """The connection broke mid-batch; `committing`: while COMMIT was on its way."""

    def __init__(self, error: StorageUnavailable, committing: bool) -> None:
        self.error = error
        self.committing = committing


class Batch:
    """One batch on one connection: together first, then one by one if anything fails."""

    retries = 3  # a job alone that lost a deadlock or a serialization race runs again

    def __init__(self, store: _Owner, conn: psycopg.Connection[Any], jobs: list[Job]) -> None:
        self.store = store
        self.conn = conn
        self.jobs = jobs

    def run(self) -> list[Outcome]:
        try:
            values = self._transaction(self.jobs)
            return [(value, None) for value in values]
        except Lost:
            raise
        except psycopg.Error as error:
            self._rollback(error)
            if len(self.jobs) == 1 and not isinstance(error, psycopg.errors.TransactionRollback):
                return [(None, self.store.unavailable("database error", error))]
        except Exception as error:
            self._rollback(error)
            if len(self.jobs) == 1:
                return [(None, error)]
        return [self._alone(job) for job in self.jobs]

    def _alone(self, job: Job) -> Outcome:
        for attempt in range(1, self.retries + 1):
            try:
                return self._once(job)
            except psycopg.errors.TransactionRollback as error:
                if attempt == self.retries:
                    return None, self.store.unavailable("database conflict", error)
            except Lost as lost:  # and every job after this one fails the same way
                return None, lost.error
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, job: Job) -> Outcome:
        """The job alone; raises only a lost connection or a race worth running again."""
        try:
            return self._transaction([job])[0], None
        except Lost:
            raise
        except psycopg.Error as error:
            self._rollback(error)
            if isinstance(error, psycopg.errors.TransactionRollback):
                raise
            return None, self.store.unavailable("database error", error)
        except Exception as error:
            self._rollback(error)
            return None, error

    def _transaction(self, jobs: list[Job]) -> list[Any]:
        conn = self.conn
        if all(job.ingest is not None and _plain(job.ingest) for job in jobs):
            return self._one_statement([job.ingest for job in jobs if job.ingest is not None])
        if not any(job.durable for job in jobs):
            conn.execute("SET LOCAL synchronous_commit = off")
        values = self._merged_ingests(jobs)
        for index, job in enumerate(jobs):
            if index not in values:
                values[index] = job.fn(conn)
        try:
            conn.commit()
        except psycopg.OperationalError as error:
            if conn.broken or conn.closed:
                raise Lost(self.store.unavailable("commit outcome unknown", error), True) from None
            raise
        return [values[index] for index in range(len(jobs))]

    def _one_statement(self, batches: list[IngestBatch]) -> list[Any]:
        """Ingests with events only: one INSERT that commits on its own (autocommit), one
        round trip where BEGIN, INSERT and COMMIT took three. As durable as a COMMIT: the
        statement's commit waits for its WAL flush (`synchronous_commit` stays on).

        A connection lost meanwhile is retried on a fresh one like a lost transaction: the
        INSERT is idempotent (`ON CONFLICT DO NOTHING`), so if it had committed, the retry
        finds the events stored and reports them as duplicates, as an ESP's retry would.
        """
        conn = self.conn
        conn.autocommit = True
        try:
            return self._plain_insert(PgTx(conn, self.store.bot_ttl_seconds), batches)
        except psycopg.OperationalError as error:
            if conn.broken or conn.closed:
                raise Lost(self.store.unavailable("connection lost", error), False) from None
            raise
        finally:
            if not (conn.broken or conn.closed):
                conn.autocommit = False

    def _plain_insert(self, tx: PgTx, batches: list[IngestBatch]) -> list[Any]:
        """Events believed new go in without conflict handling (cheaper for the server); if
        one was stored already the statement fails whole, and they go in again with it. A
        duplicate is rare, but retries come in storms (an ESP catching up after an outage):
        after one, the next `Optimism.patience` batches skip the attempt."""
        optimism = self.store.optimism
        if optimism.skip > 0:
            optimism.skip -= 1
        else:
            try:
                outcomes = tx.ingest_new(batches)
            except psycopg.errors.UniqueViolation:
                optimism.skip = optimism.patience
            else:
                if outcomes is not None:
                    return list(outcomes)
        return list(tx.ingest_many(batches))

    def _merged_ingests(self, jobs: list[Job]) -> dict[int, Any]:
        """The outcomes of the batch's mergeable ingests, stored with one INSERT."""
        merged = [(index, job.ingest) for index, job in enumerate(jobs) if job.ingest is not None]
        if len(merged) < 2:
            return {}
        tx = PgTx(self.conn, self.store.bot_ttl_seconds)
        outcomes = tx.ingest_many([batch for _, batch in merged])
        return {index: outcome for (index, _), outcome in zip(merged, outcomes, strict=True)}

    def _rollback(self, error: BaseException) -> None:
        """Roll back, or give up on a connection that is gone (the pool replaces it)."""
        if self.conn.broken or self.conn.closed:
            raise Lost(self.store.unavailable("connection lost", error), False) from None
        try:
            self.conn.rollback()
        except psycopg.OperationalError as lost:
            raise Lost(self.store.unavailable("connection lost", lost), False) from None


def _plain(batch: IngestBatch) -> bool:
    """Only events to insert: no nonce to check, no rejected items nor tasks beside them."""
    return batch.nonce is None and not batch.rejected and not batch.tasks
