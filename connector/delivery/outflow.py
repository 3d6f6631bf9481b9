"""The worker's deliveries in flight: bounded, fair between destinations, no batch barrier.

The outbox loop claims deliveries in batches and hands each to `Outflow.start`; attempts
run as their own tasks and their outcomes wait in `take()` until the loop's next claim
records them in the same transaction. So the loop keeps claiming while attempts run (a slow
delivery never holds up the next claim), and the bookkeeping stays one transaction per
batch.

Three bounds keep that safe:

* `concurrency`: attempts on the wire at once (HTTP connections).
* `per_destination`: attempts on the wire to one destination (scheme, host and port), taken
  *before* a wire slot, so attempts queued for a slow receiver never hold the slots others
  need.
* `window`: deliveries started and not finished. Each busy destination may hold at most
  its fair share of it (`window / busy destinations`, at least `per_destination`). A claimed
  delivery beyond its destination's share is not started, and when a new destination
  becomes busy the others' queued (not yet sent) deliveries beyond their new share are
  dropped: both are left to their lease, so a slow receiver's backlog cannot fill the
  window and starve the others. When the window is full the loop still claims a few (see
  the worker), which is how a destination waiting behind a slow one is noticed at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Generic, TypeVar

import structlog

R = TypeVar("R")
_log = structlog.get_logger("connector.delivery")
Work = Callable[[], Awaitable[R | None]]


class Outflow(Generic[R]):
    """Admission, slots and finished outcomes of the attempts one worker has in flight."""

    def __init__(
        self,
        concurrency: int,
        per_destination: int,
        window: int,
        on_finish: Callable[[], None] | None = None,
    ) -> None:
        self.per_destination = per_destination
        self.window = window
        self._on_finish = on_finish
        self._wire = asyncio.Semaphore(concurrency)
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._held: Counter[str] = Counter()  # started, not finished, per destination
        self._queued: dict[str, dict[asyncio.Task[None], None]] = {}  # not yet sent
        self._total = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._done: list[R] = []
        self._changed = asyncio.Event()

    @property
    def busy(self) -> int:
        """Deliveries started and not finished."""
        return self._total

    def room(self) -> int:
        return max(0, self.window - self._total)

    def start(self, key: str, work: Work[R]) -> bool:
        """Run `work` (one attempt to destination `key`) once that destination and the
        wire have a slot; its result (None: nothing to record) waits for `take`. False,
        and nothing runs, when the destination already holds its share of the window."""
        newcomer = key not in self._held
        share = self._share(len(self._held) + newcomer)
        if self._held[key] >= share:
            return False
        if newcomer:
            self._trim(share)
        self._held[key] += 1
        self._total += 1
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self.per_destination)
        task = asyncio.create_task(self._run(key, slot, work))
        self._queued.setdefault(key, {})[task] = None
        self._tasks.add(task)
        task.add_done_callback(partial(self._finished, key))
        return True

    def _share(self, destinations: int) -> int:
        return max(self.per_destination, self.window // max(1, destinations))

    def _trim(self, share: int) -> None:
        """Drop the newest queued deliveries of destinations above `share`."""
        for key, queued in self._queued.items():
            excess = min(self._held[key] - share, len(queued))
            for task in list(queued)[len(queued) - excess :] if excess > 0 else ():
                task.cancel()

    async def _run(self, key: str, slot: asyncio.Semaphore, work: Work[R]) -> None:
        async with slot:
            self._queued[key].pop(asyncio.current_task(), None)  # type: ignore[arg-type]
            async with self._wire:
                try:
                    result = await work()
                except Exception:  # a bug, not a delivery outcome: the lease retries it
                    _log.exception("delivery.attempt_failed", destination=key)
                    return
        if result is not None:
            self._done.append(result)

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._queued.get(key, {}).pop(task, None)
        self._held[key] -= 1
        self._total -= 1
        if not self._held[key]:  # nobody holds or waits for its slot: forget it
            del self._held[key], self._slots[key]
            self._queued.pop(key, None)
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
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while self._total and not ready():
                    self._changed.clear()
                    await self._changed.wait()

    async def cancel(self) -> None:
        """Stop every attempt in flight; what finished stays for `take`."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
