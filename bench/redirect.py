"""Trigger-link redirect benchmark: `GET /t/{slug}` against a bare Starlette redirect.

Both run under uvicorn (httptools + uvloop, one process) pinned to CPU 0; `wrk` drives them
from CPU 1 with the same requests: `GET /t/spring?c=<signed token>` for 5,000 contacts, a
browser user agent. The bare app answers the same 302 (`Location`, `Cache-Control: no-store`)
and stores nothing; the service verifies the token, fills the destination template, builds
the `link.clicked` event and commits it (`synchronous = FULL`) before answering. Each round
measures bare then the service layouts and takes the ratio inside the round (these machines
are noisy). After each service run the database is checked: every click answered 302 must be
stored (0 acknowledged-but-missing clicks). Helpers come from `bench/ingest.py`.

These machines are shared: another session's tests on CPU 0 slow the service, on CPU 1 they
slow `wrk` and so the bare app's figure. Each run therefore also records the CPU time its
server processes used (`/proc`, the service with its worker process) per request
(`cpu_us`), their share of one core over the run (`cpu_share`, near 1.0 when the server
had CPU 0 to itself and was the bottleneck), and the share of CPU 0 left idle (`core_idle`,
from /proc/stat: time the server spent waiting, e.g. on an fsync, with nothing else to run).
`cpu_ratio` (bare's CPU per request / the service's) is what the throughput ratio would be
if both were CPU-bound on a core of their own; the goal is judged on the throughput ratio.

    .venv/bin/python bench/redirect.py [--duration 8] [--connections 50] [--rounds 3]

Needs `wrk` and `taskset` (Debian: apt-get install wrk util-linux).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from ingest import LAYOUTS, cpu_seconds, drain, run_wrk, start, stop, wait_for_worker

from connector.links.tokens import sign

SECRET = "bench-link-secret-0123456789"
DESTINATION = "https://shop.example.org/spring?who={contact}"
LUA = """
local paths = {}
local index = 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index], {
    ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
      .. " Chrome/131.0.0.0 Safari/537.36",
  })
end
"""
BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

async def go(request):
    return RedirectResponse("https://shop.example.org/spring?who=u", 302,
                            headers={"Cache-Control": "no-store"})

app = Starlette(routes=[Route("/t/{slug}", go, methods=["GET", "HEAD"]),
                        Route("/healthz", lambda r: JSONResponse({"ok": True}))])
"""
CONFIG = """
[storage]
url = "sqlite:///{db}"
synchronous = "{synchronous}"

[worker]
mode = "{mode}"

[trigger_links]
secret = "{secret}"

[[links]]
slug = "spring"
destination = "{destination}"

[[rules]]
id = "link-humans"
event = ["link.clicked"]
actions = ["log"]
when = {{ field = "bot.suspected", eq = false }}

[[actions]]
id = "log"
type = "log"
"""
UVICORN = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]


def core_ticks(cpu: int = 0) -> tuple[int, int]:
    """(idle + iowait, all) ticks of one core so far (/proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(value) for value in line.split()[1:]]
            return ticks[3] + ticks[4], sum(ticks)
    return 0, 0


def measured_load(
    pid: int, port: int, script: Path, paths: Path, args: argparse.Namespace
) -> dict[str, float]:
    """wrk's figures with the server's CPU per request, its share of a core, and the share
    of that core (CPU 0) nobody used (`core_idle`: waits such as an fsync's left it idle)."""
    cpu, started, (idle, ticks) = cpu_seconds(pid), time.monotonic(), core_ticks()
    figures = run_wrk(port, script, paths, args.duration, args.connections)
    cpu, elapsed = cpu_seconds(pid) - cpu, time.monotonic() - started
    idle_after, ticks_after = core_ticks()
    figures["cpu_us"] = round(cpu / max(figures["requests"], 1) * 1e6, 1)
    figures["cpu_share"] = round(cpu / elapsed, 2)
    figures["core_idle"] = round((idle_after - idle) / max(ticks_after - ticks, 1), 3)
    return figures


def free_port() -> int:
    """A port nobody listens on now (other sessions' benchmarks use fixed ones)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_paths(path: Path, contacts: int) -> None:
    with path.open("w") as out:
        for i in range(contacts):
            token = quote(sign(SECRET.encode(), "spring", f"contact-{i}"), safe="")
            out.write(f"/t/spring?c={token}\n")


def stored_clicks(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        query = "SELECT COUNT(*) FROM events WHERE type = 'link.clicked'"
        return int(conn.execute(query).fetchone()[0])


def measure_service(
    work: Path, layout: str, port: int, paths: Path, args: argparse.Namespace
) -> dict[str, float]:
    db = work / f"{layout}-{port}.db"
    config = work / f"{layout}-{port}.toml"
    config.write_text(
        CONFIG.format(
            db=db,
            synchronous=args.synchronous,
            mode=LAYOUTS[layout],
            secret=SECRET,
            destination=DESTINATION,
        )
    )
    python = sys.executable
    command = [python, "-m", "connector", "serve", "--config", str(config), "--port", str(port)]
    service = start(command, port, env={"PYTHONWARNINGS": "ignore"})
    script = work / "paths.lua"
    try:
        if LAYOUTS[layout] == "process":
            wait_for_worker(port)
        if args.warmup:
            run_wrk(port, script, paths, args.warmup, args.connections)
            if LAYOUTS[layout] != "external":
                drain(db)
        before = stored_clicks(db)
        figures = measured_load(service.pid, port, script, paths, args)
    finally:
        stop(service)
    figures["stored"] = stored_clicks(db) - before
    acked = figures["requests"] - figures["non2xx"]
    figures["acked_but_missing"] = max(0, acked - figures["stored"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument(
        "--layouts",
        default="ingestonly,process",
        help="ingestonly: clicks stored, no worker; process: the default worker process",
    )
    args = parser.parse_args()
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install wrk util-linux)")
    work = Path(tempfile.mkdtemp(prefix="connector-redirect-"))
    (work / "paths.lua").write_text(LUA)
    (work / "bare_app.py").write_text(BARE_APP)
    paths = work / "paths.txt"
    write_paths(paths, 5000)
    layouts = args.layouts.split(",")
    results: dict[str, list[dict[str, float]]] = {"bare": [], **{k: [] for k in layouts}}
    ratios: dict[str, list[float]] = {k: [] for k in layouts}
    cpu_ratios: dict[str, list[float]] = {k: [] for k in layouts}
    for round_number in range(args.rounds):
        port = free_port()
        app = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(work)]
        bare = start([*app, "--port", str(port), *UVICORN], port)
        try:
            if args.warmup:
                run_wrk(port, work / "paths.lua", paths, args.warmup, args.connections)
            results["bare"].append(measured_load(bare.pid, port, work / "paths.lua", paths, args))
        finally:
            stop(bare)
        for layout in layouts:
            figures = measure_service(work, layout, free_port(), paths, args)
            results[layout].append(figures)
            ratios[layout].append(figures["rps"] / results["bare"][-1]["rps"])
            cpu_ratios[layout].append(results["bare"][-1]["cpu_us"] / figures["cpu_us"])
        print(f"round {round_number + 1}: " + json.dumps({k: v[-1] for k, v in results.items()}))
    summary: dict[str, object] = {
        "bare_rps_median": statistics.median(r["rps"] for r in results["bare"]),
        "bare_p99_ms_median": statistics.median(r["p99_ms"] for r in results["bare"]),
        "bare_cpu_us_median": statistics.median(r["cpu_us"] for r in results["bare"]),
        "bare_cpu_share_median": statistics.median(r["cpu_share"] for r in results["bare"]),
    }
    for layout in layouts:
        summary[layout] = {
            "rps_median": statistics.median(r["rps"] for r in results[layout]),
            "ratio_to_bare_median": round(statistics.median(ratios[layout]), 3),
            "ratios": [round(r, 3) for r in ratios[layout]],
            "cpu_us_median": statistics.median(r["cpu_us"] for r in results[layout]),
            "cpu_ratio_median": round(statistics.median(cpu_ratios[layout]), 3),
            "cpu_share_median": statistics.median(r["cpu_share"] for r in results[layout]),
            "core_idle_median": statistics.median(r["core_idle"] for r in results[layout]),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in results[layout]),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in results[layout]),
            "stored_total": sum(r["stored"] for r in results[layout]),
            "acked_but_missing_total": sum(r["acked_but_missing"] for r in results[layout]),
        }
    print(json.dumps(summary, indent=2))
    for layout in layouts:
        ratio = summary[layout]["ratio_to_bare_median"]  # type: ignore[index]
        verdict = "met" if ratio >= 0.5 else "NOT met"
        print(f"redirect storing each click, {layout}: {ratio} x bare (target 0.50: {verdict})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
