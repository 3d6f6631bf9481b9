"""Python calls per delivery, by module: the worker against the plain loops of fanout.py.

Timing on this shared 2-core machine moves by +-20 %; call counts do not (much), so they
say where the worker's bookkeeping lies before a timed A/B confirms a change. The same
prefill and sink as bench/fanout.py; each measurement runs in a process of its own with a
`sys.setprofile` hook (also on the SQLite writer thread) that counts, while the outbox
drains, every Python function entered (by the callee's file) and every C function called
(by the caller's file). The worker is the real `run_worker` on a copy of the outbox, counted
from `Pipeline.start` until the outbox is empty; a loop is counted whole (its own setup is a
few hundred calls).

    .venv/bin/python bench/fanout_calls.py [--events 500] [--actions 1,5] [--top 30]
        [--variant NAME=SCRIPT]   # SCRIPT: a launcher as for fanout.py, run in-process first

Counts under the hook are not timings: a C call can cost 20 ns or 20 us. Read them as where
the work is, then measure the change with fanout.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import runpy
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import fanout  # noqa: E402  (bench/fanout.py: the sink, the prefill, the loops)

# First match wins: path fragments to the row they count under.
GROUPS = (
    ("/connector/delivery/", "ours: delivery/"),
    ("/connector/pipeline/worker.py", "ours: pipeline/worker.py"),
    ("/connector/storage/", "ours: storage/"),
    ("/connector/logging.py", "ours: logging + metrics"),
    ("/connector/metrics.py", "ours: logging + metrics"),
    ("/prometheus_client/", "ours: logging + metrics"),
    ("/connector/", "ours: other"),
    ("/bench/", "bench loop"),
    ("/httpx/", "httpx"),
    ("/aiohttp/", "aiohttp (+ yarl, multidict)"),
    ("/yarl/", "aiohttp (+ yarl, multidict)"),
    ("/multidict/", "aiohttp (+ yarl, multidict)"),
    ("/propcache/", "aiohttp (+ yarl, multidict)"),
    ("/aiohappyeyeballs/", "aiohttp (+ yarl, multidict)"),
    ("/asyncio/", "asyncio / uvloop"),
    ("/uvloop/", "asyncio / uvloop"),
    ("/tenacity/", "tenacity"),
    ("/structlog/", "structlog"),
    ("/standardwebhooks/", "signing (standardwebhooks, hmac)"),
    ("/hmac.py", "signing (standardwebhooks, hmac)"),
    ("/base64.py", "signing (standardwebhooks, hmac)"),
)
_groups: dict[str, str] = {}


def group(filename: str) -> str:
    found = _groups.get(filename)
    if found is None:
        found = next((name for part, name in GROUPS if part in filename), None)
        if found is None:
            stdlib = "/lib/python3" in filename or filename.startswith("<")
            found = "stdlib, generated __init__s" if stdlib else f"other: {filename}"
        _groups[filename] = found
    return found


class Counting:
    """A profile hook for every thread: Python calls by callee, C calls by caller."""

    def __init__(self) -> None:
        self.on = False
        self.python: Counter[CodeType] = Counter()
        self.c_calls: Counter[tuple[CodeType, str]] = Counter()

    def hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.on:
            return
        if event == "call":
            self.python[frame.f_code] += 1
        elif event == "c_call":
            self.c_calls[frame.f_code, getattr(arg, "__qualname__", "?")] += 1

    def install(self) -> None:
        threading.setprofile(self.hook)
        sys.setprofile(self.hook)

    def report(self, deliveries: int, top: int) -> dict[str, Any]:
        python: Counter[str] = Counter()
        c_calls: Counter[str] = Counter()
        functions: Counter[str] = Counter()
        for code, n in self.python.items():
            python[group(code.co_filename)] += n
            functions[f"{_where(code)} {code.co_name}"] += n
        for (code, name), n in self.c_calls.items():
            c_calls[group(code.co_filename)] += n
            functions[f"{_where(code)} -> C {name}"] += n
        per = max(1, deliveries)
        return {
            "deliveries": deliveries,
            "python": {k: v / per for k, v in python.items()},
            "c": {k: v / per for k, v in c_calls.items()},
            "top": [(name, n / per) for name, n in functions.most_common(top)],
        }


def _where(code: CodeType) -> str:
    parts = Path(code.co_filename).parts
    return "/".join(parts[-2:]) + f":{code.co_firstlineno}"


# --- one measurement, in its own process -------------------------------------------------------
def count_worker(
    config: Path, db: Path, top: int, launcher: str | None, hook: bool = True
) -> dict[str, Any]:
    """The real worker, in-process, counted from `Pipeline.start` to an empty outbox;
    `hook` False: not counted (a run for callgrind's instruction counts, see `instructions`)."""
    if launcher:  # a variant's patches or sys.path, as fanout.py's launchers set them up
        runpy.run_path(launcher, run_name="launcher")
    import uvloop

    from connector.config import load_settings
    from connector.logging import configure_logging
    from connector.pipeline import worker
    from connector.pipeline.standalone import run_worker

    counting = Counting()
    start, attempt = worker.Pipeline.start, worker.Pipeline._attempt
    with sqlite3.connect(db) as conn:
        (expected,) = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()
    finished = 0
    done = asyncio.Event()

    def counted_start(self: worker.Pipeline) -> None:
        counting.on = True
        start(self)

    async def counted_attempt(self: worker.Pipeline, *args: Any) -> Any:
        """The worker's own, then one more finished (no polling of the database: under
        callgrind its cost would grow with the run's length, not with its deliveries)."""
        nonlocal finished
        result = await attempt(self, *args)
        finished += 1
        if finished == expected:
            counting.on = False
            done.set()
        return result

    worker.Pipeline.start = counted_start  # type: ignore[method-assign]
    worker.Pipeline._attempt = counted_attempt  # type: ignore[method-assign]
    worker.TIMER_POLL_SECONDS = 3600.0  # no timers here: their polls would count per second
    settings = load_settings(config)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the attempt lines: written, not kept)
    configure_logging(settings.server.log_level, json=True)

    async def go() -> None:
        async def stop() -> None:
            await done.wait()
            os.kill(os.getpid(), signal.SIGTERM)

        stopping = asyncio.create_task(stop())
        await run_worker(settings)
        await stopping

    if hook:
        counting.install()
    uvloop.run(go())
    sys.setprofile(None)
    with sqlite3.connect(db) as conn:
        (delivered,) = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'delivered'"
        ).fetchone()
    return counting.report(delivered, top)


def count_loop(
    db: Path, port: int, concurrency: int, api: str, top: int, hook: bool = True
) -> dict[str, Any]:
    import aiohttp  # noqa: F401  (imported before counting, as the worker's are)
    import httpx_aiohttp  # noqa: F401
    import uvloop  # noqa: F401

    import connector.delivery.engine  # noqa: F401

    counting = Counting()
    counting.on = True
    if hook:
        counting.install()
    sys.stdout, stdout = open(os.devnull, "w"), sys.stdout  # noqa: SIM115
    fanout.run_loop(db, port, concurrency, api)
    sys.setprofile(None)
    sys.stdout = stdout
    with sqlite3.connect(db) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()
    return counting.report(rows, top)


# --- the driver --------------------------------------------------------------------------------
def run(*args: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if output.returncode:
        raise RuntimeError(output.stderr[-3000:])
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    rows = sorted(
        {g for r in results.values() for g in (*r["python"], *r["c"])},
    )
    head = "| calls per delivery: Python + C | " + " | ".join(names) + " |"
    lines = [head, "| --- |" + " ---: |" * len(names)]
    for row in rows:
        cells = []
        for name in names:
            python, c = results[name]["python"].get(row, 0.0), results[name]["c"].get(row, 0.0)
            cells.append(f"{python:.1f} + {c:.1f}" if python or c else "")
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    totals = [
        f"**{sum(r['python'].values()):.0f} + {sum(r['c'].values()):.0f}**"
        for r in results.values()
    ]
    lines.append("| **all** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--actions", default="1,5")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--delivery", default="", help="extra [delivery] lines")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--loops", default="aiohttp,direct")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SCRIPT")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fanout-calls-"))
    port = fanout.free_port()
    sink = subprocess.Popen([sys.executable, fanout.__file__, "sink", str(port)], cwd=ROOT)
    try:
        for k in (int(a) for a in args.actions.split(",")):
            template = work / f"template-{k}.db"
            fanout.prefill(fanout.write_config(work, template, port, k, args), args.events)
            db = work / f"run-{k}.db"
            config = fanout.write_config(work, db, port, k, args)
            results: dict[str, dict[str, Any]] = {}
            for name, launcher in [("worker", ""), *(v.split("=", 1) for v in args.variant)]:
                fanout.copy_store(template, db)
                results[name] = run("worker", str(config), str(db), str(args.top), launcher)
            for api in args.loops.split(","):
                loop = [str(template), str(port), str(args.concurrency), api, str(args.top)]
                results[api] = run("loop", *loop)
            print(f"\n## {k} action(s) per event, {args.events} events\n")
            print(table(results))
            for name, result in results.items():
                print(f"\n{name}: top functions, calls per delivery")
                for function, n in result["top"]:
                    print(f"  {n:7.2f}  {function}")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        config, db, top, launcher = sys.argv[2:6]
        hook = sys.argv[6:7] != ["nohook"]
        print(json.dumps(count_worker(Path(config), Path(db), int(top), launcher or None, hook)))
    elif sys.argv[1:2] == ["loop"]:
        db, port, concurrency, api, top = sys.argv[2:7]
        hook = sys.argv[7:8] != ["nohook"]
        figures = count_loop(Path(db), int(port), int(concurrency), api, int(top), hook)
        print(json.dumps(figures))
    else:
        main()
