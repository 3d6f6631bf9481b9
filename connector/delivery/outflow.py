"""The worker's deliveries in flight: bounded, fair between destinations, no batch barrier.

The outbox loop claims deliveries in batches and hands each to `Outflow.start`; attempts
wait in their destination's queue until one of the long-lived sender lanes takes them, and
their outcomes wait in `take()` until the loop's next claim records them in the same
transaction. So the loop keeps claiming while attempts run (a slow delivery never holds up
the next claim), and the bookkeeping stays one transaction per batch.

Three bounds keep that safe:

* `concurrency`: attempts on the wire at once (HTTP connections): the number of lanes.
* `per_destination`: attempts on the wire to one destination (scheme, host and port). A
  lane takes the next attempt of the next destination in turn that is below it, so
  attempts queued for a slow receiver never hold the lanes others need.
* `window`: deliveries started and not finished. Each busy destination may hold at most
  its fair share of it (`window / busy destinations`, at least `per_destination`). A claimed
  delivery beyond its destination's share is not started, and when a new destination
  becomes busy the others' queued (not yet sent) deliveries beyond their new share are
  dropped: both are left to their lease, so a slow receiver's backlog cannot fill the
  window and starve the others. When the window is full the loop still claims a few (see
  the worker), which is how a destination waiting behind a slow one is noticed at all.

Lanes instead of a task per attempt: a task, two semaphores and a done callback cost ~10 µs
an attempt against ~5 µs for a bare semaphore-and-gather loop (py-spy on the worker,
bench/README.md "Delivery"); a lane costs a deque pop and a few counters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

R = TypeVar("R")
_log = structlog.get_logger("connector.delivery")
Work = Callable[[], Awaitable[R | None]]


class Outflow(Generic[R]):
    """Admission, lanes and finished outcomes of the attempts one worker has in flight."""

    def __init__(
        self,
        concurrency: int,
        per_destination: int,
        window: int,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self.concurrency = concurrency
        self.per_destination = per_destination
        self.window = window
        self._on_finish = on_finish
        self._held: Counter[str] = Counter()  # started, not finished, per destination
        self._sending: Counter[str] = Counter()  # on the wire, per destination
        # Not yet sent, per destination; the dict's order is the lanes' turn.
        self._queued: dict[str, deque[Work[R]]] = {}
        self._total = 0
        self._lanes: list[asyncio.Task[None]] = []
        self._idle: list[asyncio.Future[None]] = []  # lanes waiting for work
        self._done: list[R] = []
        self._changed = asyncio.Event()
        self._watching = 0  # calls of `wait` waiting on `_changed`

    @property
    def busy(self) -> int:
        """Deliveries started and not finished."""
        return self._total

    def room(self) -> int:
        return max(0, self.window - self._total)

    def start(self, key: str, work: Work[R]) -> bool:
        """Queue `work` (one attempt to destination `key`) for a lane; its result (None:
        nothing to record) waits for `take`. False, and nothing runs, when the destination
        already holds its share of the window."""
        newcomer = key not in self._held
        share = self._share(len(self._held) + newcomer)
        if self._held[key] >= share:
            return False
        if newcomer:
            self._trim(share)
        self._held[key] += 1
        self._total += 1
        queue = self._queued.get(key)
        if queue is None:
            queue = self._queued[key] = deque()
        queue.append(work)
        if self._idle:
            waiting = self._idle.pop()
            if not waiting.done():
                waiting.set_result(None)
        elif len(self._lanes) < self.concurrency:
            self._lanes.append(asyncio.create_task(self._lane()))
        return True

    def _share(self, destinations: int) -> int:
        return max(self.per_destination, self.window // max(1, destinations))

    def _trim(self, share: int) -> None:
        """Drop the newest queued deliveries of destinations above `share`."""
        for key, queued in list(self._queued.items()):
            for _ in range(min(self._held[key] - share, len(queued))):
                queued.pop()
                self._finished(key)

    def _next(self) -> tuple[str, Work[R]] | None:
        """The next queued attempt of the first destination in turn below its slots; that
        destination's turn then goes to the back."""
        for key, queued in self._queued.items():
            if queued and self._sending[key] < self.per_destination:
                work = queued.popleft()
                del self._queued[key]
                self._queued[key] = queued
                return key, work
        return None

    async def _lane(self) -> None:
        """One connection's worth of sending: attempts one after another, while there are."""
        loop = asyncio.get_running_loop()
        while True:
            item = self._next()
            if item is None:
                waiting = loop.create_future()
                self._idle.append(waiting)
                await waiting
                continue
            key, work = item
            self._sending[key] += 1
            try:
                result = await work()
            except Exception:  # a bug, not a delivery outcome: the lease retries it
                _log.exception("delivery.attempt_failed", destination=key)
                result = None
            finally:
                self._sending[key] -= 1
            if result is not None:
                self._done.append(result)
            self._finished(key)

    def _finished(self, key: str) -> None:
        self._held[key] -= 1
        self._total -= 1
        if not self._held[key]:  # nothing sent or queued for it: forget it
            del self._held[key], self._sending[key]
            self._queued.pop(key, None)
        if self._watching:  # an Event.set (a Python call) only while `wait` waits
            self._changed.set()
        if self._on_finish is not None:
            self._on_finish()

    def take(self) -> list[R]:
        """The outcomes finished since the last call, to record."""
        done, self._done = self._done, []
        return done

    async def wait(self, ready: Callable[[], bool], seconds: float) -> None:
        """Until `ready()` holds (checked as attempts finish) or nothing is in flight, at
        most `seconds`."""
        self._watching += 1
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):
                    while self._total and not ready():
                        self._changed.clear()
                        await self._changed.wait()
        finally:
            self._watching -= 1

    async def cancel(self) -> None:
        """Stop every attempt in flight and drop the queued ones; what finished stays for
        `take`."""
        lanes, self._lanes, self._idle = self._lanes, [], []
        for lane in lanes:
            lane.cancel()
        await asyncio.gather(*lanes, return_exceptions=True)
        self._queued.clear()
        self._held.clear()
        self._sending.clear()
        self._total = 0
