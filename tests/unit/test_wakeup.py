"""The wake pipe: webhooks stored close together wake the worker once, none is forgotten."""

from __future__ import annotations

import asyncio
import os

import pytest

from connector.pipeline.wakeup import COALESCE_SECONDS, WakeListener, WakePipe


def _bytes_waiting(fd: int) -> int:
    os.set_blocking(fd, False)
    try:
        return len(os.read(fd, 4096))
    except BlockingIOError:
        return 0


def test_wakes_write_at_once_then_coalesce_within_the_window() -> None:
    """The first wake after a quiet spell writes at once; the others within its window share
    one byte at the window's end; after the window a wake writes at once again."""
    asyncio.run(_wakes_write_at_once_then_coalesce_within_the_window())


async def _wakes_write_at_once_then_coalesce_within_the_window() -> None:
    pipe = WakePipe()
    try:
        pipe.wake()
        assert _bytes_waiting(pipe.read_fd) == 1  # no timer for the first one
        for _ in range(50):
            pipe.wake()
        assert _bytes_waiting(pipe.read_fd) == 0  # not before the window ends
        await asyncio.sleep(COALESCE_SECONDS * 5)
        assert _bytes_waiting(pipe.read_fd) == 1
        await asyncio.sleep(COALESCE_SECONDS * 5)  # a quiet spell
        pipe.wake()
        assert _bytes_waiting(pipe.read_fd) == 1
    finally:
        pipe.close()


def test_the_listener_is_called_for_a_coalesced_wake() -> None:
    """The worker's reader calls its wake-up function when a byte arrives."""
    asyncio.run(_the_listener_is_called_for_a_coalesced_wake())


async def _the_listener_is_called_for_a_coalesced_wake() -> None:
    pipe = WakePipe()
    woken = asyncio.Event()
    reader = os.dup(pipe.read_fd)  # the listener owns and closes its descriptor
    listener = WakeListener(reader, woken.set)
    try:
        pipe.wake()
        pipe.wake()
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        listener.watch(False)
        os.close(reader)
        pipe.close()


def test_a_wake_after_close_is_dropped_quietly() -> None:
    """A deferred or immediate write to a closed pipe (the web process stopping) raises nothing."""
    asyncio.run(_a_wake_after_close_is_dropped_quietly())


async def _a_wake_after_close_is_dropped_quietly() -> None:
    pipe = WakePipe()
    pipe.wake()
    pipe.wake()  # deferred to the window's end
    pipe.close()
    await asyncio.sleep(COALESCE_SECONDS * 5)  # the deferred write meets a closed pipe
    pipe.wake()  # and an immediate one
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.write(pipe.write_fd, b"\0")  # closed indeed: both writes were dropped
