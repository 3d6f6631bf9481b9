"""Work that arrives over a few loop turns is gathered into one group commit."""

from __future__ import annotations

import asyncio
import queue
from pathlib import Path
from typing import Any

import pytest

from connector.storage.gather import MAX_WAIT_ITEMS, MAX_WAIT_TURNS, Gathering
from connector.storage.sqlite import SqliteStore


@pytest.mark.parametrize(
    ("sizes", "goes_at"),
    [
        ([1, 1], 1),  # the second look found nothing new
        ([1, 2, 3, 3], 3),  # a burst read over three turns
        ([MAX_WAIT_ITEMS], 0),  # large enough: no waiting
        (list(range(1, 20)), MAX_WAIT_TURNS),  # a steady trickle: waiting is bounded
    ],
)
def test_a_gathering_goes_at_the_first_turn_that_adds_nothing(
    sizes: list[int], goes_at: int
) -> None:
    """The look at which the gathered items go, for sizes seen at successive turns."""
    gathering = Gathering()
    assert [gathering.settled(size) for size in sizes].index(True) == goes_at


class _Recording(queue.SimpleQueue[Any]):
    """The writer's queue, noting how many jobs each item handed to the thread held."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is not None:
            self.sizes.append(len(item))
        super().put(item, block, timeout)


def _handed_over(tmp_path: Path, durable: list[bool]) -> list[int]:
    """The jobs in each hand-over to the writer thread when job i is submitted at turn i."""
    store = SqliteStore(tmp_path / "g.db")
    recording = store._writer._jobs = _Recording()  # before its thread waits on the queue
    store.open_sync()

    async def submit() -> None:
        jobs = []
        for flag in durable:
            jobs.append(asyncio.ensure_future(store.transaction(lambda tx: 1, durable=flag)))
            await asyncio.sleep(0)  # the next loop turn
        await asyncio.gather(*jobs)

    try:
        asyncio.run(submit())
    finally:
        store.close_sync()
    return recording.sizes


@pytest.mark.parametrize(
    ("durable", "sizes"),
    [
        ([True, True, True], [3]),  # acknowledgements over three turns: one group commit
        ([False, False, False], [1, 1, 1]),  # bookkeeping goes at the end of its turn
    ],
)
def test_durable_work_waits_for_a_quiet_turn_and_background_work_does_not(
    tmp_path: Path, durable: list[bool], sizes: list[int]
) -> None:
    """What reaches the writer thread, and in how many hand-overs."""
    assert _handed_over(tmp_path, durable) == sizes
