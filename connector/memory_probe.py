"""A memory report on demand: `kill -USR1 <pid>` makes the process log `memory.report`.

Finding what grows in a process that runs for hours needs figures from inside it, taken at
chosen moments and compared: each report holds `memory.usage()` and `memory.pymalloc()`,
what trimming has cost so far, the Python object types whose live count grew most since
the first report and, when `tracemalloc` runs (start the process with
`PYTHONTRACEMALLOC=1`), the source lines whose live allocations grew most since the first
report. A report costs a pass over the heap (a fraction of a second, more with
`tracemalloc`): diagnostics only, never on a timer. `bench/soak.py --probe` uses them.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import tracemalloc
from collections import Counter
from typing import Any

import structlog

from connector.memory import TRIM_COST, pymalloc, usage

log = structlog.get_logger("connector.memory")
TOP = 15  # rows of each ranking in a report


class Probe:
    """Remembers the first report's object counts and allocations to compare later ones to."""

    def __init__(self) -> None:
        self.first_counts: Counter[str] | None = None
        self.first_snapshot: tracemalloc.Snapshot | None = None

    def report(self) -> dict[str, Any]:
        counts = Counter(type(item).__qualname__ for item in gc.get_objects())
        self.first_counts = self.first_counts or counts
        grown = Counter(counts)
        grown.subtract(self.first_counts)
        figures: dict[str, Any] = {
            **usage(),
            **pymalloc(),
            "trims": TRIM_COST.count,
            "trim_ms": round(TRIM_COST.seconds * 1000, 1),
            "gc_objects": sum(counts.values()),
            "gc_collections": [generation["collections"] for generation in gc.get_stats()],
            "grown_types": grown.most_common(TOP),
        }
        if tracemalloc.is_tracing():
            figures["grown_lines"] = self._grown_lines()
        return figures

    def _grown_lines(self) -> list[tuple[str, float, int]]:
        """(file:line, KB, blocks) of the lines whose live allocations grew most."""
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        self.first_snapshot = self.first_snapshot or snapshot
        return [
            (str(stat.traceback[0]), round(stat.size_diff / 1024, 1), stat.count_diff)
            for stat in snapshot.compare_to(self.first_snapshot, "lineno")[:TOP]
        ]


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Log a `memory.report` each time the process gets SIGUSR1."""
    probe = Probe()
    loop.add_signal_handler(signal.SIGUSR1, lambda: log.info("memory.report", **probe.report()))
