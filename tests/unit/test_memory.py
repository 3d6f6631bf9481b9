"""The memory figures a process takes of itself, and the report it logs on SIGUSR1."""

from __future__ import annotations

import asyncio
import os
import signal
import tracemalloc
from typing import Any

import pytest
from structlog.testing import capture_logs

from connector import memory, memory_probe


class Grown:
    """A type no other code allocates, so its count in a report is ours alone."""


def test_usage_splits_rss_into_anonymous_and_file_backed() -> None:
    """RSS is its anonymous part plus the rest, and glibc's heap and SQLite are measured."""
    figures = memory.usage()
    assert figures["rss"] > 0
    assert figures["rss"] == pytest.approx(figures["anon"] + figures["file"], abs=0.2)
    assert {"heap_used", "heap_free", "heap_mmapped", "sqlite"} <= figures.keys()


def test_trim_leaves_the_heap_in_use_alone() -> None:
    """Trimming returns free pages only: what is allocated stays allocated."""
    kept = [bytearray(1000) for _ in range(10_000)]
    del kept[::2]
    before = memory.heap()["heap_used"]
    memory.trim()
    assert memory.heap()["heap_used"] == pytest.approx(before, abs=0.1)


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "tracemalloc"])
def test_report_names_what_grew_since_the_first(trace: bool) -> None:
    """The second report ranks the type (and, traced, the line) whose objects were kept."""
    probe = memory_probe.Probe()
    if trace:
        tracemalloc.start()
    try:
        probe.report()
        kept = [Grown() for _ in range(50_000)]
        report = probe.report()
    finally:
        tracemalloc.stop()
    assert ["Grown", len(kept)] in [list(row) for row in report["grown_types"]]
    assert ("grown_lines" in report) is trace
    if trace:
        file_line, size_kb, _ = report["grown_lines"][0]
        assert file_line.startswith(__file__) and size_kb > 1000


def test_sigusr1_logs_a_report() -> None:
    """A process with the probe installed logs `memory.report` when sent SIGUSR1."""

    async def run() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        memory_probe.install(loop)
        try:
            with capture_logs() as logs:
                os.kill(os.getpid(), signal.SIGUSR1)
                for _ in range(100):
                    await asyncio.sleep(0.01)
                    if logs:
                        break
            return logs
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)

    [line] = asyncio.run(run())
    assert line["event"] == "memory.report" and line["rss"] > 0


def test_keep_trimmed_trims_while_the_loop_runs() -> None:
    """The heap is trimmed every period for as long as the loop runs, and the cost counted."""

    before = memory.TRIM_COST.count

    async def ten_turns() -> None:
        memory.keep_trimmed(asyncio.get_running_loop(), seconds=0)  # once a loop turn
        for _ in range(10):
            await asyncio.sleep(0)

    asyncio.run(ten_turns())
    assert memory.TRIM_COST.count >= before + 3
    assert memory.TRIM_COST.seconds > 0


def test_fixed_mmap_threshold_maps_large_blocks_after_a_large_free() -> None:
    """Once fixed, a large block gets its own mapping even after one was freed (glibc would
    otherwise raise its threshold and put the next one inside the heap)."""
    assert memory.fix_mmap_threshold()
    size = int(memory.heap()["heap_free"] + 2) * memory.MB  # more than any hole in the heap
    bytearray(2 * size)  # mapped, then freed at once
    before = memory.heap()["heap_mmapped"]
    block = bytearray(size)
    assert memory.heap()["heap_mmapped"] - before >= size / memory.MB - 0.1
    del block
