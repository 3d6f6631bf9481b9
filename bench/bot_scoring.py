"""Per-click cost of bot scoring, immediate and settled, against a baseline from the same run.

Machines here are noisy, so every figure is also given as a ratio to a baseline measured in
the same process: validating one `email.clicked` dict into the pydantic model (work ingest
does for every webhook anyway). Ingest costs ~180 us of CPU per request; the budget for the
detector is 10% of that (~18 us). Events come from the labelled corpus, replayed in arrival
order, so caches and state sizes are realistic. The corpus is scanner-heavy (most messages
carry a burst of clicks, the costly case); `--people-only` replays just the people's clicks.

    .venv/bin/python bench/bot_scoring.py [--clicks 4000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connector.bots.detector import Detector
from connector.bots.keys import epoch_seconds
from connector.bots.settings import BotSettings
from connector.bots.state import SQLITE_SCHEMA, BotState, MemoryState, SqliteState
from schemas.events import EVENT_MODELS, EmailClicked, EmailDelivered

CORPUS = Path(__file__).with_name("bots") / "corpus.jsonl.gz"
INGEST_CPU_US = 180.0


def load(
    limit: int, people_only: bool = False
) -> tuple[list[dict[str, Any]], list[EmailClicked | EmailDelivered]]:
    raw: list[dict[str, Any]] = []
    with gzip.open(CORPUS, "rt") as stream:
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


def timed(run: Callable[[], int]) -> float:
    """Microseconds per click of one `run` (which returns how many clicks it handled)."""
    start = time.perf_counter_ns()
    clicks = run()
    return (time.perf_counter_ns() - start) / 1000 / max(clicks, 1)


def passes(
    detector: Detector, events: list[EmailClicked | EmailDelivered], make: Callable[[], BotState]
) -> tuple[Callable[[], int], Callable[[], int]]:
    """(observe every event into a fresh state, settle every click from that state)."""
    clicks = [e for e in events if isinstance(e, EmailClicked)]
    box: list[BotState] = []

    def observe() -> int:
        box[:] = [make()]
        for event in events:
            detector.observe(event, box[0])
        return len(clicks)

    def settle() -> int:
        for click in clicks:
            detector.settle(click, box[0])
        return len(clicks)

    return observe, settle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--people-only", action="store_true", help="Only the people's clicks: 1-2 per message."
    )
    args = parser.parse_args()
    raw, events = load(args.clicks, args.people_only)
    raw_clicks = [d for d in raw if d["type"] == "email.clicked"]

    def baseline() -> int:
        for data in raw_clicks:
            EmailClicked.model_validate(data)
        return len(raw_clicks)

    detector = Detector(BotSettings())
    directory = tempfile.mkdtemp()
    counter = iter(range(1_000_000))

    def sqlite_state() -> BotState:
        conn = sqlite3.connect(Path(directory) / f"bench{next(counter)}.db")
        conn.executescript(SQLITE_SCHEMA)
        return SqliteState(conn)

    memory = passes(detector, events, MemoryState)
    stored = passes(detector, events, sqlite_state)
    memory[0]()  # warm the agent and address caches, as a running service has them
    names = ("immediate, memory", "settled, memory", "immediate, sqlite", "settled, sqlite")
    samples: dict[str, list[float]] = {name: [] for name in ("baseline", *names)}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeat):  # interleaved, so each ratio compares neighbouring runs
        base = timed(baseline)
        samples["baseline"].append(base)
        for name, run in zip(names, (*memory, *stored), strict=True):
            value = timed(run)
            samples[name].append(value)
            ratios[name].append(value / base)
    span = epoch_seconds(events[-1].received_at) - epoch_seconds(events[0].received_at)
    print(f"{len(raw_clicks)} clicks, {len(events)} events over {span / 3600:.1f} h of traffic")
    print(f"baseline (validate one email.clicked): {median(samples['baseline']):7.1f} us/click")
    print(f"{'median of ' + str(args.repeat) + ' runs':22} {'us/click':>9} {'x baseline':>11}")
    for name in names:
        print(f"{name:22} {median(samples[name]):9.1f} {median(ratios[name]):11.2f}")
    print(f"(ingest is ~{INGEST_CPU_US:.0f} us of CPU per request; 10% of it is ~18 us)")


if __name__ == "__main__":
    main()
