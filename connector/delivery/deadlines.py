"""Attempt deadlines under one loop timer, instead of `asyncio.timeout_at` per attempt.

Each attempt is bounded as a whole by its action's timeout (sender.py: slow-loris safe).
`asyncio.timeout_at` arms a loop timer per attempt and cancels it after (under uvloop a
libuv timer handle made, started, stopped and closed, plus `current_task` and the context
manager's own calls): 6.8-7.4 against 1.3-1.6 µs an attempt for this (an await loop on
uvloop), and whole workers used 0.87-0.89 of the CPU per delivery (bench/fanout.py,
bench/README.md "Delivery"). The attempts of one action share its timeout, so their
deadlines come in the order they start: a queue per timeout is sorted by construction, and
one timer, armed at the earliest deadline still queued, cancels what overran. Finished
attempts leave their queue's head as they finish, so a queue holds the attempts in flight
and, behind a slow one, those finished since it started (until it ends or times out).

The meaning is `asyncio.timeout_at`'s: at the deadline the attempt's task is cancelled, and
`Deadline.timed_out` turns that cancellation into a timeout unless something else
cancelled the task too (a worker stopping), whose cancellation then goes on.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque


class Deadline:
    """One attempt's deadline (`at`, the loop's clock) and the task it cancels."""

    __slots__ = ("at", "cancelling", "done", "expired", "task")

    def __init__(self, at: float, task: asyncio.Task[object] | None) -> None:
        self.at = at
        self.task = task
        self.cancelling = task.cancelling() if task is not None else 0
        self.done = False
        self.expired = False

    def timed_out(self) -> bool:
        """After the attempt raised CancelledError: True when that was this deadline alone.
        Either way this deadline's cancellation is withdrawn, once, as `asyncio.timeout_at`
        does."""
        if not self.expired or self.task is None:
            return False
        self.expired = False
        return self.task.uncancel() <= self.cancelling


class Deadlines:
    """The deadlines of one event loop's attempts in flight, under one timer."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: dict[float, deque[Deadline]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def start(self, timeout: float) -> Deadline:
        """The running task's deadline, `timeout` seconds from now; `finish` it after."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (tests): the old one's timer is gone
            self._loop, self._queues, self._timer, self._armed_at = loop, {}, None, math.inf
        deadline = Deadline(loop.time() + timeout, asyncio.current_task(loop))
        queue = self._queues.get(timeout)
        if queue is None:
            queue = self._queues[timeout] = deque()
        queue.append(deadline)
        if deadline.at < self._armed_at:
            self._arm(loop, deadline.at)
        return deadline

    def finish(self, deadline: Deadline, timeout: float) -> None:
        """The attempt is over: its deadline cancels nothing any more."""
        deadline.done = True
        if deadline.expired:  # cancelled, and the attempt ended some other way
            deadline.timed_out()
        queue = self._queues.get(timeout)
        while queue and queue[0].done:
            queue.popleft()

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(at, self._fire)
        self._armed_at = at

    def _fire(self) -> None:
        """Cancel every attempt past its deadline; re-arm for the earliest one left."""
        self._timer, self._armed_at = None, math.inf
        assert self._loop is not None
        now = self._loop.time()
        earliest = math.inf
        for queue in self._queues.values():
            while queue and (queue[0].done or queue[0].at <= now):
                deadline = queue.popleft()
                if not deadline.done and deadline.task is not None:
                    deadline.expired = True
                    deadline.task.cancel()
            if queue:
                earliest = min(earliest, queue[0].at)
        if earliest < math.inf:
            self._arm(self._loop, earliest)
