"""The pipeline's idle wait must pass a cancellation on even when it is woken at once."""

from __future__ import annotations

import asyncio

import pytest

from connector.pipeline.worker import Pipeline


async def _cancel_as_woken() -> None:
    event = asyncio.Event()
    idle = asyncio.create_task(Pipeline._idle(event, 10.0))
    await asyncio.sleep(0)  # the loop is now waiting on the event
    event.set()  # an attempt finishes ...
    idle.cancel()  # ... as `Pipeline.stop` cancels the loop
    await idle


def test_a_loop_woken_as_it_is_cancelled_stops() -> None:
    # With asyncio.wait_for on Python 3.11 the cancellation was swallowed, the loop ran on
    # and `stop` (the app's shutdown) hung.
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(_cancel_as_woken())
