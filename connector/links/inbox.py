"""Clicks on their way into the inbox: stored together, one ingest in flight at a time.

A click's `link.clicked` event waits for the next ingest: when none is in flight, the first
loop turn that adds no click to the batch (storage/gather.py), else as soon as the one in flight is
committed, with every click that came meanwhile. Each batch is one `IngestBatch` (one writer
job, committed in one group commit like webhooks), and every click is answered only after
that COMMIT; no click waits for a timer, only for the commit before its own and for the
loop to finish parsing the requests that came with it. One ingest, one log line
(`link.clicks`: how many, how many verified, per slug), one metrics update and one wake of
the worker per batch instead of per click: bench/redirect.py measured the per-click job and
log line at ~20% of a click's CPU (bench/README.md, "Trigger-link redirect").

A failed batch of several clicks is retried click by click (concurrently, so in one group
commit again), so one bad event never takes the others with it; a click whose event could
not be stored is logged at error level and counted `not_stored`.

A person is never kept waiting on storage for long: a batch not committed within
`ANSWER_WITHIN_SECONDS` (another process holding SQLite's write lock, a stalled PostgreSQL)
is answered anyway, with a warning (`link.clicks`, outcome "unconfirmed"); its clicks are
still stored, and counted, when the commit comes, unless the process dies first. One timer
a batch, not a click.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from connector.metrics import Metrics
from connector.storage.base import EventRecord, IngestBatch, Store
from connector.storage.gather import Gathering

log = structlog.get_logger("connector.links")
SOURCE = "trigger_links"  # the `source` label of the clicks' request counters
# A person who clicked waits this long at most for the commit before the redirect goes out.
ANSWER_WITHIN_SECONDS = 3.0


@dataclass(slots=True)
class _Batch:
    """The clicks of one loop turn; each waits on its own future (one may be cancelled).

    The batch keeps its loop: `asyncio.get_running_loop()` is a `getpid` system call on
    Python 3.11, paid once a batch instead of once a click."""

    started: float
    loop: asyncio.AbstractEventLoop
    records: list[EventRecord] = field(default_factory=list)
    slugs: list[str] = field(default_factory=list)
    verified: int = 0
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    gathering: Gathering = field(default_factory=Gathering)  # for a turn that adds none
    deadline: asyncio.TimerHandle | None = None  # answers the clicks if storing takes long


class ClickInbox:
    def __init__(
        self,
        store: Store,
        wake: Callable[[], None],
        metrics: Metrics | None = None,
        answer_within: float = ANSWER_WITHIN_SECONDS,
    ) -> None:
        self._store = store
        self._answer_within = answer_within
        self._wake = wake
        self._metrics = metrics
        self._batch: _Batch | None = None  # clicks waiting for the next ingest
        self._storing: asyncio.Task[None] | None = None  # the ingest in flight

    def put(self, record: EventRecord, slug: str, verified: bool) -> asyncio.Future[bool]:
        """Store one click's event with the others of its batch: its future is True once
        committed. A plain function returning the future, not a coroutine: one frame less
        to build, and to resume when the commit answers (each click waits on its own
        future, so a cancelled request cancels only its own)."""
        batch = self._batch
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._batch = _Batch(time.perf_counter(), loop)
            batch.deadline = loop.call_later(self._answer_within, _answer_anyway, batch)
            if self._storing is None or self._storing.done():
                loop.call_soon(self._flush)
        waiter: asyncio.Future[bool] = batch.loop.create_future()
        batch.records.append(record)
        batch.slugs.append(slug)
        batch.verified += verified
        batch.waiters.append(waiter)
        return waiter

    def _flush(self) -> None:
        batch = self._batch
        if batch is not None and not batch.gathering.settled(len(batch.records)):
            batch.loop.call_soon(self._flush)
            return
        self._batch = None
        if batch is not None:
            self._storing = batch.loop.create_task(self._store_batch(batch))
            self._storing.add_done_callback(self._stored)

    def _stored(self, task: asyncio.Task[None]) -> None:
        """The batch in flight is committed: the clicks that came meanwhile go next."""
        if task is self._storing:
            self._storing = None
            self._flush()

    async def _store_batch(self, batch: _Batch) -> None:
        stored = [False] * len(batch.records)
        try:
            stored = await self._ingest(batch.records)
            if any(stored):
                self._wake()
        except Exception:  # a bug: the clicks are still answered (see redirect.py)
            log.exception("link.clicks", clicks=len(stored), outcome="error")
        finally:
            if batch.deadline is not None:
                batch.deadline.cancel()
            for waiter, ok in zip(batch.waiters, stored, strict=True):
                if not waiter.done():
                    waiter.set_result(ok)
        kept = sum(stored)
        self.count("stored", kept)
        self.count("not_stored", len(stored) - kept)
        log.info(
            "link.clicks",
            clicks=len(stored),
            stored=kept,
            verified=batch.verified,
            slugs=dict(Counter(batch.slugs)),
            duration_ms=round((time.perf_counter() - batch.started) * 1000, 2),
        )

    async def _ingest(self, records: list[EventRecord]) -> list[bool]:
        """Whether each record is committed: all at once, else one by one."""
        try:
            await self._store.ingest(_batch_of(records))
        except Exception:
            if len(records) == 1:
                log.exception("link.click", outcome="not_stored", status=302)
                return [False]
        else:
            return [True] * len(records)
        alone = [self._ingest([record]) for record in records]
        return [ok for oks in await asyncio.gather(*alone) for ok in oks]

    def count(self, outcome: str, clicks: int) -> None:
        """Add clicks to the request counter (`stored` or `not_stored`)."""
        if self._metrics is not None and clicks:
            self._metrics.requests.labels(SOURCE, outcome).inc(clicks)


def _answer_anyway(batch: _Batch) -> None:
    """The batch's clicks waited `ANSWER_WITHIN_SECONDS` for storage: redirect them now."""
    waiting = [waiter for waiter in batch.waiters if not waiter.done()]
    for waiter in waiting:
        waiter.set_result(False)
    if waiting:
        log.warning(
            "link.clicks",
            clicks=len(waiting),
            outcome="unconfirmed",
            waited_ms=round((time.perf_counter() - batch.started) * 1000, 2),
        )


def _batch_of(records: list[EventRecord]) -> IngestBatch:
    return IngestBatch(source="links", received_at=records[0].received_at, events=records)
