"""Wakes the delivery loop when a retry this process scheduled comes due, not at the next poll.

A failed attempt is stored with the time of its next attempt; without an alarm the loop
finds it only when it polls (`idle_seconds`, 1 s by default), so a retry ran up to a poll
interval late, and a slower poll made every retry later. The worker tells the alarm each
time it schedules a retry; the alarm keeps the earliest `MAX_PENDING` due times (a sorted
list: bounded memory however many retries a dead receiver piles up) and rings the loop's
wake-up at each, one timer at a time. Retries scheduled by another process, or beyond the
earliest `MAX_PENDING`, still wait for the poll, which stays the fallback.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable

MAX_PENDING = 1024
# The claim that follows compares the due time with the wall clock; ringing a millisecond
# late keeps a timer that fires a hair early from finding nothing due.
LATE_SECONDS = 0.001


class RetryAlarm:
    """Calls `wake` when each scheduled due time (wall-clock seconds, `clock`) arrives."""

    def __init__(self, wake: Callable[[], None], clock: Callable[[], float] = time.time) -> None:
        self._wake = wake
        self._clock = clock
        self._due: list[float] = []  # sorted, earliest first
        self._timer: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> int:
        return len(self._due)

    def schedule(self, due: float) -> None:
        """Ring at `due` as well; call from the event loop's thread."""
        bisect.insort(self._due, due)
        if len(self._due) > MAX_PENDING:
            self._due.pop()  # the latest: left to the poll
        if self._due[0] == due:
            self._arm()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, self._due[0] - self._clock()) + LATE_SECONDS
        self._timer = asyncio.get_running_loop().call_later(delay, self._ring)

    def _ring(self) -> None:
        self._timer = None
        del self._due[: bisect.bisect_right(self._due, self._clock())]
        if self._due:
            self._arm()
        self._wake()
