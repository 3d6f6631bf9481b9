"""The loops that run beside the web server: process the inbox, settle clicks, drain the outbox.

Each loop claims work in batches from the store (so queue operations stay cheaper than
ingest), does it, and records the outcome in one transaction. Claimed deliveries carry a
lease: if the process dies mid-attempt the lease runs out and the delivery is tried again,
which is why downstream apps get a stable `webhook-id` to de-duplicate on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

import orjson
import structlog

from connector.delivery.outflow import Outflow
from connector.delivery.retry_alarm import RetryAlarm
from connector.delivery.sender import DeliveryJob, Sender
from connector.metrics import Metrics
from connector.pipeline import click_index
from connector.pipeline.processor import Processor
from connector.storage.base import AttemptRecord, ClaimedDelivery, ClaimedTask, Store, Tx
from providers.base import ControlTask

log = structlog.get_logger("connector.worker")
T = TypeVar("T")
Clock = Callable[[], float]
TaskRunner = Callable[[ControlTask], Awaitable[None]]
# How often due timers are looked for: checks and waits fire within this of their time.
TIMER_POLL_SECONDS = 0.25


def _ignore(idle: bool) -> None:
    """Nobody to tell."""


class Pipeline:
    """Owns the background loops; `wake()` is called after each stored webhook."""

    def __init__(
        self,
        store: Store,
        processor: Processor,
        sender: Sender,
        metrics: Metrics,
        *,
        run_task: TaskRunner | None = None,
        batch_size: int = 50,
        concurrency: int = 10,
        lease_seconds: float = 120.0,
        retention_seconds: float = 30 * 86400,
        idle_seconds: float = 1.0,
        poll_seconds: float | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.processor = processor
        self.sender = sender
        self.metrics = metrics
        self.run_task = run_task
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.retention_seconds = retention_seconds
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds or idle_seconds
        self.clock = clock
        self._inbox = asyncio.Event()
        self._outbox = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Attempts in flight; each one finished wakes the delivery loop to record it.
        self._outflow: Outflow[AttemptRecord] = Outflow(
            concurrency,
            sender.settings.destination_concurrency,
            window=2 * batch_size,
            on_finish=self._outbox.set,
        )
        self._control: set[asyncio.Task[None]] = set()  # control tasks running
        # One claim at a time (routing's or the delivery loop's): each sizes its claim by
        # the room left in the window, which a concurrent claim would fill twice.
        self._claiming = asyncio.Lock()
        self._retries = RetryAlarm(self._outbox.set, clock)  # wakes the loop when one is due
        # Attempts by (action, outcome) since the metrics were last fed: counted per attempt
        # with a dict increment, fed to prometheus once per loop turn (`_feed_metrics`),
        # not a counter call with its lock per attempt.
        self._outcomes: Counter[tuple[str, str]] = Counter()
        # Told True when routing goes idle, False when it finds work (standalone.py listens
        # to the web process's wake-ups only while it is idle).
        self.routing_idle: Callable[[bool], None] = _ignore

    def _background(self, fn: Callable[[Tx], T]) -> Awaitable[T]:
        """The loops' transactions: redone or retried if a power loss undoes them, so they
        need not wait for an fsync of their own (see SqliteWriter.run)."""
        return self.store.transaction(fn, durable=False)

    def wake(self) -> None:
        """New events are stored: by this process (inline mode), by the web process that
        started this worker (its wake pipe), or by any process (`Store.watch`, PostgreSQL).
        Polling every `poll_seconds` is the fallback."""
        self._inbox.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                self._loop(self.route_once, self._inbox, self.poll_seconds, self._routing_idle),
                name="route",
            ),
            asyncio.create_task(self._loop(self.deliver_once, self._outbox), name="deliver"),
            asyncio.create_task(self._loop(self.housekeeping_once, None, 60.0), name="prune"),
            asyncio.create_task(self._timers(), name="timers"),
            asyncio.create_task(self.store.watch(self.wake), name="watch"),
        ]

    async def stop(self) -> None:
        """Stop the loops and record the outcomes already known; claimed-but-unfinished
        deliveries stay in the outbox (their leases lapse)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._outflow.cancel()
        self._retries.cancel()
        for task in list(self._control):
            task.cancel()
        await asyncio.gather(*self._control, return_exceptions=True)
        records = self._outflow.take()
        self._feed_metrics()
        if records:
            await self._background(lambda tx: tx.record_attempts(records))

    async def _loop(
        self,
        step: Callable[[], Awaitable[int]],
        wake: asyncio.Event | None,
        idle: float = 0.0,
        idling: Callable[[bool], None] = _ignore,
    ) -> None:
        """Run `step` while it finds work, else sleep until woken; `idling` hears each
        change between the two."""
        resting = True
        while True:
            try:
                done = await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pipeline.step_failed", step=step.__name__)
                done = 0
            if resting == bool(done):
                resting = not done
                idling(resting)
            if done:
                continue
            await self._idle(wake, idle or self.idle_seconds)

    def _routing_idle(self, idle: bool) -> None:
        self.routing_idle(idle)

    @staticmethod
    async def _idle(event: asyncio.Event | None, seconds: float) -> None:
        """Sleep until woken or `seconds` pass (a poll keeps timers such as retries moving)."""
        if event is None:
            await asyncio.sleep(seconds)
            return
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
        # that arrives as the event is set (an attempt finishing while `stop` cancels this
        # loop), and the loop then ran on, so `stop` never returned.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        event.clear()

    async def route_once(self) -> int:
        """Immediate pass and due settlements in one transaction. When nothing is in flight
        (light load, where a click's latency is the delivery loop's hops) it also claims the
        due deliveries it queued, which start at once, not after another transaction of the
        delivery loop. Under load the delivery loop claims, as before: its transactions
        share the write lock with ingest, and their number sets how fast the outbox drains."""
        now = self.clock()
        if self._claiming.locked() or self._outflow.busy:
            return await self._route(now, 0)
        async with self._claiming:
            return await self._route(now, self.batch_size)

    async def _route(self, now: float, size: int) -> int:
        lease = self.lease_seconds

        def route(tx: Tx) -> tuple[int, int, list[ClaimedDelivery]]:
            first = self.processor.process(tx, now)
            second = self.processor.settle(tx, now)
            queued = first.deliveries + second.deliveries
            claimed = tx.claim_deliveries(now, size, lease) if queued and size else []
            return first.events + second.events, queued, claimed

        events, queued, claimed = await self._background(route)
        self._start(claimed, now)
        if queued and len(claimed) >= size:  # a full claim or none: there may be more due
            self._outbox.set()
        return events

    async def _timers(self) -> None:
        """The click index made whole and config checks first, then due timers every
        `TIMER_POLL_SECONDS` (so a check registered by another process, or a wait started by
        a delivery, fires on time)."""
        now = self.clock()
        scenarios = self.processor.scenarios
        if self.processor.indexes_clicks:
            await self._fill_click_index(now)
        try:
            await self._background(lambda tx: scenarios.schedule_config_checks(tx, now))
        except Exception:
            log.exception("pipeline.config_checks_failed")
        while True:
            try:
                pause = await self.timers_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pipeline.step_failed", step="timers_once")
                pause = TIMER_POLL_SECONDS
            if pause > 0:
                await asyncio.sleep(pause)

    async def _fill_click_index(self, now: float) -> None:
        """Index the clicks routed while no check rule was configured (click_index.py),
        before any check can read the index; a failure is retried, checks wait."""
        scenarios = self.processor.scenarios
        after: int | None = 0
        while after is not None:
            try:
                after = await self._background(
                    partial(click_index.fill_page, engine=scenarios, after=after, now=now)
                )
            except Exception:
                log.exception("pipeline.click_index_fill_failed")
                await asyncio.sleep(self.idle_seconds)

    async def timers_once(self) -> float:
        """Fire due timers (a page of recipients per transaction); their events are routed
        by the next routing pass, which is woken at once. Returns how long to sleep: until
        the next timer is due, at most `TIMER_POLL_SECONDS` (a timer registered by another
        process is then seen in time), and not at all while there is more to fire."""
        now = self.clock()
        fired = await self._background(lambda tx: self.processor.scenarios.fire(tx, now))
        for event in fired.events:
            self.metrics.scenario_events.labels(event.type).inc()
        if fired.events:
            self._inbox.set()
        if fired.timers:
            return 0.0
        if fired.next_due is None:
            return TIMER_POLL_SECONDS
        return min(TIMER_POLL_SECONDS, max(0.0, fired.next_due - self.clock()))

    async def deliver_once(self) -> int:
        """One transaction records the outcomes finished so far and claims the next deliveries
        (and control tasks); the attempts then run on their own (outflow.py), while the loop
        comes round to claim more. No batch barrier: a slow attempt holds up only itself.

        Under load every transaction waits its turn at the group commit, so the number of
        transactions, not the work in them, sets how fast the outbox drains: with the window
        full the loop first waits until a whole batch has finished, so each transaction
        records and claims about `batch_size`, and the other batch keeps the lanes busy
        meanwhile. (Half a batch made transactions of ~22 at 5 actions, each writing its
        pages to the WAL whole: bench/fanout.py, writer 44 against 34 µs a delivery.) An
        outcome waits at most until the loop comes round again (at once while attempts
        finish, and at `stop`); a crash in between leaves it to the lease, like a crash
        mid-attempt.
        """
        flow = self._outflow
        floor = max(1, self.batch_size)
        if flow.room() < floor:
            await flow.wait(lambda: flow.room() >= floor, self.idle_seconds)
        async with self._claiming:
            now = self.clock()
            lease = self.lease_seconds
            with_tasks = self.run_task is not None
            # A full window still claims a few: a destination waiting behind a slow one is
            # seen.
            size = min(self.batch_size, max(flow.room(), flow.per_destination))
            records = flow.take()
            self._feed_metrics()

            def record_and_claim(tx: Tx) -> tuple[list[ClaimedDelivery], list[ClaimedTask]]:
                if records:
                    tx.record_attempts(records)
                return (
                    tx.claim_deliveries(now, size, lease),
                    tx.claim_tasks(now, 10, lease) if with_tasks and not self._control else [],
                )

            claimed, tasks = await self._background(record_and_claim)
            self._start(claimed, now)
        for task in tasks:
            running = asyncio.create_task(self._run_task(task))
            self._control.add(running)
            running.add_done_callback(self._control.discard)
        return len(claimed) + len(tasks) or len(records)  # recorded something: look again

    def _start(self, claimed: list[ClaimedDelivery], claimed_at: float) -> None:
        for item in claimed:
            key = self.sender.destination(item.action_id)
            self._outflow.start(key, partial(self._attempt, item, claimed_at))

    async def _attempt(self, item: ClaimedDelivery, claimed_at: float) -> AttemptRecord | None:
        """Attempt one claimed delivery; None when it waited so long for a slot that its
        lease could run out mid-attempt (less than the action's timeout, or half the lease,
        is left): it is then left to the lease rather than risk a second worker sending it
        at the same time."""
        now = self.clock()
        lease = self.lease_seconds
        if claimed_at + lease - now < min(self.sender.timeout(item.action_id), lease / 2):
            return None
        job = DeliveryJob(
            delivery_id=item.id,
            action_id=item.action_id,
            event=None,  # decoded by the sender only where an action needs the value
            attempt=item.attempt,
            first_attempt_at=_utc(item.first_attempt_at) if item.first_attempt_at else None,
            now=datetime.fromtimestamp(now, UTC),
            body=item.body,
        )
        result = await self.sender.attempt(job)
        self._outcomes[item.action_id, result.outcome] += 1
        if result.next_attempt_at is not None:
            self._retries.schedule(result.next_attempt_at.timestamp())
        return AttemptRecord(
            delivery_id=item.id,
            attempt=item.attempt,
            at=now,
            outcome=result.outcome,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
            next_attempt_at=result.next_attempt_at.timestamp() if result.next_attempt_at else None,
        )

    def _feed_metrics(self) -> None:
        """The attempts counted since the last call, into their prometheus counters."""
        for (action, outcome), count in self._outcomes.items():
            self.metrics.attempted(action, outcome).inc(count)
        self._outcomes.clear()

    async def _run_task(self, task: ClaimedTask) -> None:
        assert self.run_task is not None
        error: str | None = None
        try:
            await self.run_task(ControlTask(kind=task.kind, data=orjson.loads(task.data)))
        except Exception as failure:  # recorded and retried with backoff
            error = f"{type(failure).__name__}: {failure}"[:300]
        now = self.clock()
        retry_at = now + min(3600.0, 30.0 * 2**task.attempts)
        await self._background(lambda tx: tx.finish_task(task.id, error, now, retry_at))
        log.info("control_task", kind=task.kind, ok=error is None, error=error)

    async def housekeeping_once(self) -> int:
        """Drop what is past retention and refresh the outbox gauge; never counts as work."""
        now = self.clock()
        retention = self.retention_seconds
        await self._background(lambda tx: tx.prune(now, retention))
        counts = await self._background(lambda tx: tx.counts())
        self.metrics.outbox_pending.set(counts.get("pending", 0))
        return 0


def _utc(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)
