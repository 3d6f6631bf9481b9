"""The worker listens to the web process's wake-ups only while routing is idle, and loses
none: bytes written while it is busy wake it as soon as it is idle again."""

from __future__ import annotations

import asyncio
import contextlib
import os
from types import SimpleNamespace

from connector.pipeline.wakeup import WakeListener
from connector.pipeline.worker import Pipeline


async def _turns(count: int = 3) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def _listen_only_while_idle() -> list[str]:
    read_fd, write_fd = os.pipe()
    seen: list[str] = []
    listener = WakeListener(read_fd, lambda: seen.append("wake"))
    os.write(write_fd, b"\0")
    await _turns()
    seen.append("busy")
    listener.watch(False)
    os.write(write_fd, b"\0\0")
    await _turns()
    seen.append("idle")
    listener.watch(True)  # the bytes written meanwhile wake it at once
    await _turns()
    os.close(write_fd)  # the web process is gone: one last wake, the pipe is closed
    await _turns()
    listener.watch(False)
    listener.watch(True)  # no effect once closed
    await _turns()
    return seen


def test_wake_ups_reach_routing_only_while_it_is_idle_and_none_is_lost() -> None:
    """A byte wakes an idle listener; bytes written while busy wait and wake it on idling;
    a closed pipe wakes it once more and is watched no longer."""
    assert asyncio.run(_listen_only_while_idle()) == ["wake", "busy", "idle", "wake", "wake"]


async def _idling_changes(found: list[int]) -> list[bool]:
    heard: list[bool] = []
    work = iter(found)

    async def step() -> int:
        try:
            return next(work)
        except StopIteration:
            raise asyncio.CancelledError from None

    woken = asyncio.Event()
    woken.set()
    loop = SimpleNamespace(idle_seconds=0.01, _idle=lambda event, seconds: _turns(1))
    with contextlib.suppress(asyncio.CancelledError):  # the steps ran out
        await Pipeline._loop(loop, step, woken, 0.01, heard.append)  # type: ignore[arg-type]
    return heard


def test_the_routing_loop_says_when_it_goes_idle_and_when_it_finds_work() -> None:
    """Only changes are told (False: found work, True: idle), starting from idle."""
    assert asyncio.run(_idling_changes([2, 1, 0, 0, 3, 0])) == [False, True, False, True]
