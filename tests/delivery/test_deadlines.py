"""Attempt deadlines under one timer mean what `asyncio.timeout_at` means."""

from __future__ import annotations

import asyncio

import pytest

from connector.delivery.deadlines import Deadlines


async def _bounded(deadlines: Deadlines, limit: float, seconds: float) -> str:
    """An attempt sleeping `seconds` under a deadline, as the sender runs one."""
    deadline = deadlines.start(limit)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if deadline.timed_out():
            raise TimeoutError from None
        raise
    finally:
        deadlines.finish(deadline, limit)
    return "done"


def test_an_attempt_past_its_deadline_times_out_and_its_task_goes_on() -> None:
    """The overrun raises TimeoutError; the task is not left cancelled."""

    async def scenario() -> tuple[str, int, str]:
        deadlines = Deadlines()
        try:
            outcome = await _bounded(deadlines, 0.02, 5)
        except TimeoutError:
            outcome = "timeout"
        task = asyncio.current_task()
        assert task is not None
        after = await _bounded(deadlines, 1, 0)  # the same task attempts again
        return outcome, task.cancelling(), after

    assert asyncio.run(scenario()) == ("timeout", 0, "done")


def test_finished_attempts_are_never_cancelled_later() -> None:
    """An attempt that ended in time is not cancelled when its deadline passes."""

    async def scenario() -> str:
        deadlines = Deadlines()
        assert await _bounded(deadlines, 0.02, 0) == "done"
        await asyncio.sleep(0.05)  # past the first deadline: the timer fires on nothing
        return await _bounded(deadlines, 0.02, 0.01)

    assert asyncio.run(scenario()) == "done"


def test_only_the_overrunning_attempts_time_out() -> None:
    """Of attempts in flight with two timeouts, those past theirs time out, the rest end."""

    async def scenario() -> list[str]:
        deadlines = Deadlines()

        async def one(limit: float, seconds: float) -> str:
            try:
                return await _bounded(deadlines, limit, seconds)
            except TimeoutError:
                return "timeout"

        return await asyncio.gather(one(1, 0.01), one(0.02, 5), one(0.5, 0.05), one(0.03, 5))

    assert asyncio.run(scenario()) == ["done", "timeout", "done", "timeout"]


def test_a_cancellation_from_outside_is_not_taken_for_a_timeout() -> None:
    """A task cancelled by someone else (a stopping worker) stays cancelled."""

    async def scenario() -> None:
        deadlines = Deadlines()
        task = asyncio.create_task(_bounded(deadlines, 5, 5))
        await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(scenario())


def test_queues_hold_only_the_attempts_in_flight() -> None:
    """Finished attempts leave their queue as they finish: nothing piles up."""

    async def scenario() -> int:
        deadlines = Deadlines()
        for _ in range(100):
            await _bounded(deadlines, 10, 0)
        return sum(len(queue) for queue in deadlines._queues.values())

    assert asyncio.run(scenario()) == 0
