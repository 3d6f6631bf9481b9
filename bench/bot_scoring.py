"""Per-click cost of bot scoring, immediate and settled, against a baseline from the same run.

Machines here are noisy, so every figure is also given as a ratio to a baseline measured in
the same process: validating one `email.clicked` dict into the pydantic model (work ingest
does for every webhook anyway). Events come from the labelled corpus and are replayed the
way the service runs them: in arrival order, in batches of up to 100 events per
transaction (one `SqliteState` each, as `SqliteTx.bot_state()` makes), with every click
settled in a later batch once its settle time has come (`evaluate.run`'s schedule). Only the
detector's calls are timed (not parsing, commits or the scheduling), and the SQLite file is
in WAL mode like the service's; the collector runs with the worker's settings, the corpus
frozen out of its passes. The corpus is scanner-heavy (most messages carry a burst of
clicks, the costly case); `--people-only` replays just the people's clicks.

    .venv/bin/python bench/bot_scoring.py [--clicks 4000] [--repeat 7] [--people-only]
        [--corpus FILE] [--calls]

`--calls` times nothing: it counts the function calls of three replays in each store
(cProfile), a deterministic figure that compares two commits on this noisy machine.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import gzip
import heapq
import json
import pstats
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.bots.detector import Detector
from connector.bots.keys import epoch_seconds
from connector.bots.settings import BotSettings
from connector.bots.state import BotState, MemoryState
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState
from schemas.events import EVENT_MODELS, EmailClicked, EmailDelivered

CORPUS = Path(__file__).with_name("bots") / "corpus.jsonl.gz"
# The worker's collector settings (connector/gc.py, WORKER_GC_THRESHOLDS): the detector runs
# there with its start-up data frozen. Here the corpus is frozen too, so a full pass does not
# walk thousands of input events and land in one timed replay but not the next (with the
# defaults, people-only replays in memory took 23 or 48 us a click, run by run). Spelled out,
# not imported, so that older commits compared by this bench run it the same way.
GC_THRESHOLDS = (5_000, 20, 100)
INGEST_CPU_US = (250.0, 300.0)  # verified ingest of one request, measured for the issue
BATCH = 100  # the processor's batch size
Event = EmailClicked | EmailDelivered
Store = Callable[[], Any]  # a context manager factory yielding a BotState per transaction


def load(
    limit: int, people_only: bool = False, corpus: Path = CORPUS
) -> tuple[list[dict[str, Any]], list[Event]]:
    raw: list[dict[str, Any]] = []
    with gzip.open(corpus, "rt") as stream:
        for line in stream:
            data = json.loads(line)
            if people_only and data.get("label") == "bot":
                continue
            data.pop("label", None)
            data.pop("kind", None)
            raw.append(data)
    raw.sort(key=lambda d: d["received_at"])
    events = [EVENT_MODELS[d["type"]].model_validate(d) for d in raw]
    clicks = 0
    for index, event in enumerate(events):
        clicks += isinstance(event, EmailClicked)
        if clicks >= limit:
            return raw[: index + 1], events[: index + 1]
    return raw, events


def settle(detector: Detector, click: EmailClicked, state: BotState) -> None:
    """As `Processor.settle`: by id from what `observe` kept, else from the click."""
    if detector.settle_by_id(click.id, state) is None:
        detector.settle(click, state)


def replay(detector: Detector, events: list[Event], transaction: Store) -> tuple[float, float]:
    """(immediate, settled) microseconds per click of one replay into a fresh store.

    The detector's own campaign-wide index is emptied first (since session 9), as the store
    is new: otherwise every replay of the same events would add them to it again."""
    forget = getattr(detector, "forget_campaigns", None)  # older detectors have none
    if forget is not None:
        forget()
    pending: list[tuple[float, int, EmailClicked]] = []
    spent = {"immediate": 0, "settled": 0}
    clicks = 0
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        due: list[EmailClicked] = []
        now = epoch_seconds(batch[0].received_at)
        while pending and pending[0][0] <= now:
            due.append(heapq.heappop(pending)[2])
        for first in range(0, len(due), BATCH):
            with transaction() as state:
                began = time.thread_time_ns()
                for click in due[first : first + BATCH]:
                    settle(detector, click, state)
                spent["settled"] += time.thread_time_ns() - began
        settle_at: list[float] = []
        with transaction() as state:
            began = time.thread_time_ns()
            for event in batch:  # as Processor.process: the verdict, then when to settle
                detector.observe(event, state)
                if isinstance(event, EmailClicked):
                    settle_at.append(detector.settle_at(event).timestamp())
            spent["immediate"] += time.thread_time_ns() - began
        clicks += len(settle_at)
        batch_clicks = (e for e in batch if isinstance(e, EmailClicked))
        for offset, (when, click) in enumerate(zip(settle_at, batch_clicks, strict=True)):
            heapq.heappush(pending, (when, start + offset, click))
    with transaction() as state:
        began = time.thread_time_ns()
        while pending:
            settle(detector, heapq.heappop(pending)[2], state)
        spent["settled"] += time.thread_time_ns() - began
    return spent["immediate"] / 1000 / clicks, spent["settled"] / 1000 / clicks


def memory_store() -> Store:
    state = MemoryState()

    @contextmanager
    def transaction() -> Iterator[BotState]:
        yield state

    return transaction


def sqlite_connection(path: Path) -> sqlite3.Connection:
    """A file like the service's: WAL, explicit transactions."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SQLITE_SCHEMA)
    return conn


def sqlite_store(conn: sqlite3.Connection) -> Store:
    @contextmanager
    def transaction() -> Iterator[BotState]:
        conn.execute("BEGIN IMMEDIATE")
        yield SqliteState(conn)
        conn.execute("COMMIT")

    return transaction


def count_calls(detector: Detector, events: list[Event], directory: Path) -> None:
    """Function calls (cProfile) of three replays per store, and where most of them go."""
    for store in ("memory", "sqlite"):
        profile = cProfile.Profile()
        for run in range(3):
            conn = sqlite_connection(directory / f"calls{run}.db")
            transaction = memory_store() if store == "memory" else sqlite_store(conn)
            profile.runcall(replay, detector, events, transaction)
            conn.close()
        stats = pstats.Stats(profile)
        print(f"{store}: {stats.total_calls:,} calls in three replays")  # type: ignore[attr-defined]
        stats.sort_stats("ncalls").print_stats(12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--people-only", action="store_true", help="Only the people's clicks: 1-2 per message."
    )
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, help="Events file (to compare two commits)."
    )
    parser.add_argument("--calls", action="store_true", help="Count calls (cProfile), no timing.")
    args = parser.parse_args()
    raw, events = load(args.clicks, args.people_only, args.corpus)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    raw_clicks = [d for d in raw if d["type"] == "email.clicked"]

    def baseline() -> float:
        began = time.thread_time_ns()
        for data in raw_clicks:
            EmailClicked.model_validate(data)
        return (time.thread_time_ns() - began) / 1000 / len(raw_clicks)

    detector = Detector(BotSettings())
    replay(detector, events, memory_store())  # warm the agent and address caches
    if args.calls:
        with tempfile.TemporaryDirectory() as directory:
            count_calls(detector, events, Path(directory))
        return
    names = ("immediate, memory", "settled, memory", "immediate, sqlite", "settled, sqlite")
    samples: dict[str, list[float]] = {name: [] for name in ("baseline", *names)}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as directory:
        for run in range(args.repeat):  # interleaved: each ratio compares neighbouring runs
            base = baseline()
            samples["baseline"].append(base)
            conn = sqlite_connection(Path(directory) / f"bench{run}.db")
            in_memory = replay(detector, events, memory_store())
            values = (*in_memory, *replay(detector, events, sqlite_store(conn)))
            conn.close()
            for name, value in zip(names, values, strict=True):
                samples[name].append(value)
                ratios[name].append(value / base)
    span = epoch_seconds(events[-1].received_at) - epoch_seconds(events[0].received_at)
    print(f"{len(raw_clicks)} clicks, {len(events)} events over {span / 3600:.1f} h of traffic")
    print(f"baseline (validate one email.clicked): {median(samples['baseline']):7.1f} us/click")
    print(f"{'median of ' + str(args.repeat) + ' runs':22} {'us/click':>9} {'x baseline':>11}")
    for name in names:
        print(f"{name:22} {median(samples[name]):9.1f} {median(ratios[name]):11.2f}")
    for store in ("memory", "sqlite"):
        both = median(samples[f"immediate, {store}"]) + median(samples[f"settled, {store}"])
        low, high = (both / cpu * 100 for cpu in INGEST_CPU_US)
        print(f"both passes, {store}: {both:.1f} us = {high:.0f}-{low:.0f}% of ingest CPU")
    print(f"(ingest is ~{INGEST_CPU_US[0]:.0f}-{INGEST_CPU_US[1]:.0f} us of CPU per request)")


if __name__ == "__main__":
    main()
