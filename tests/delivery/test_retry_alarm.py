"""A retry wakes the delivery loop when it comes due (retry_alarm.py), not at the next poll."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from connector.delivery.retry_alarm import MAX_PENDING, RetryAlarm
from connector.storage.base import NewDelivery
from tests.delivery.harness import running_worker
from tests.delivery.stubs import Receiver

BUSY = b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
NEVER_POLL = 3600.0  # the loop's fallback poll, far beyond the test's wait


def test_the_alarm_rings_at_each_due_time_in_order() -> None:
    """Two retries scheduled out of order ring twice, the earlier first, and nothing stays."""

    async def scenario() -> tuple[list[float], int]:
        rang: list[float] = []
        both = asyncio.Event()

        def wake() -> None:
            rang.append(time.time())
            if len(rang) == 2:
                both.set()

        alarm = RetryAlarm(wake)
        now = time.time()
        due = [now + 0.15, now + 0.05]
        for moment in due:
            alarm.schedule(moment)
        async with asyncio.timeout(5):
            await both.wait()
        return [r - d for r, d in zip(rang, sorted(due), strict=True)], alarm.pending

    lateness, pending = asyncio.run(scenario())
    assert all(late >= 0 for late in lateness)  # never before its time
    assert pending == 0


def test_the_alarm_keeps_only_the_earliest_due_times() -> None:
    """However many retries pile up, at most MAX_PENDING due times are kept: the earliest."""

    async def scenario() -> tuple[int, list[float]]:
        alarm = RetryAlarm(lambda: None, clock=lambda: 0.0)
        for moment in range(MAX_PENDING + 5, 0, -1):
            alarm.schedule(1000.0 + moment)
        kept = alarm.pending, [alarm._due[0], alarm._due[-1]]
        alarm.cancel()
        return kept

    pending, ends = asyncio.run(scenario())
    assert pending == MAX_PENDING
    assert ends == [1001.0, 1000.0 + MAX_PENDING]


@pytest.mark.e2e
def test_a_due_retry_is_sent_without_waiting_for_the_poll(tmp_path: Path) -> None:
    """A 503 schedules a retry 0.2 s later; the worker loop, whose poll is an hour, sends it
    when it comes due."""

    async def scenario() -> list[bytes]:
        async with Receiver(responses=[BUSY, OK]) as receiver:
            row = NewDelivery("dlv-1", "evt-1", "crm", ["r"], b"{}", 0.0)
            delivery = {"initial_backoff_seconds": 0.2, "jitter_seconds": 0}
            async with running_worker(tmp_path, delivery, {"crm": receiver.port}, [row]) as loop:
                loop.idle_seconds = loop.poll_seconds = NEVER_POLL
                async with asyncio.timeout(10):
                    while len(receiver.heads) < 2:
                        receiver.arrived.clear()
                        await receiver.arrived.wait()
            return receiver.heads

    heads = asyncio.run(scenario())
    assert len(heads) == 2
    assert heads[0].split(b"\r\n")[0] == heads[1].split(b"\r\n")[0]  # the same request, again
