"""PostgreSQL and replicas: verified durable ingest on PostgreSQL, one and two replicas,
against SQLite and a bare Starlette app measured in the same round.

Method as in `bench/ingest.py` (whose helpers this imports): servers under uvicorn
(httptools + uvloop) pinned to CPU 0, `wrk` on CPU 1 with the same signed Customer.io
requests (each a distinct event), `--warmup` seconds of load before each measured run, every
figure a ratio against the bare app of the same round, medians over rounds. Every service
variant runs the ingest path alone: `[worker] mode = "external"` with no worker started
(ingest.py's "ingestonly" layout), the detector off.

Variants in each round (bare first, the others in an order that rotates every round):

* `bare`: the bare Starlette app;
* `sqlite`: `connector serve` on a fresh SQLite file (`synchronous = FULL`);
* `pg_cpu0`: one `connector serve` on PostgreSQL, the PostgreSQL server (postmaster and every
  backend) pinned to CPU 0 with it: the whole service on one core, as SQLite (in-process) is;
* `pg_cpu1`: the same with the PostgreSQL server pinned to CPU 1, beside `wrk`
  (`--placements cpu0` leaves it out). On a 2-core machine this takes CPU from the load
  generator and turns every round trip into a cross-core wake-up: `pg_cpu0` is the
  comparison with SQLite, this one is only for information;
* `pg2`: two `connector serve` replicas on the same database, both on CPU 0 with the
  PostgreSQL server; two `wrk` processes on CPU 1 with half the connections each, one per
  replica, running at the same time.

One PostgreSQL cluster (`scripts/postgres`, in a temp dir, fsync on) serves the whole run
and is stopped at the end, errors included; every PostgreSQL run gets a fresh database
(`CREATE DATABASE`, dropped after its check) and a `CHECKPOINT` after its warm-up, so no
checkpoint left over from earlier runs lands in a measured one. CPU cost: utime + stime
(`/proc/PID/stat`) of each `connector serve` process and of every PostgreSQL server process
(the postmaster with its reaped children, and every live child: backends, WAL writer,
checkpointer...), read just before and just after the measured load, divided by the
requests answered 2xx (each replica by its own wrk's count). Each core's busy time
(`/proc/stat`) over the same window says how much of it was ours (`cpu0_ours`,
`cpu1_ours`): on a shared machine other work takes our cores, the req/s ratios then favour
the variants with more processes, and the summary says CAUTION and gives the ratios again
over the "quiet" rounds alone (both runs of the pair had >= 90 % of each core's busy time);
the ratio by CPU cost per request is the steadier one. After every service run: rows in
`events` stored during the run against the requests `wrk` saw answered 2xx (0
acknowledged-but-missing events).

    .venv/bin/python bench/replicas.py [--duration 8] [--connections 50] [--rounds 3]
    .venv/bin/python bench/replicas.py --rounds 0 --profile /tmp/pg   # py-spy profile only
    .venv/bin/python bench/replicas.py --variants sqlite,pg_cpu0        # the goal's pair only

`--profile PREFIX` adds one unmeasured one-replica PostgreSQL run (server on CPU 0) at the
end, sampled with py-spy (`.venv/bin/pip install py-spy`; not a project dependency): the
GIL holder (`--gil`: the process's Python time) and every thread's wall clock (`--idle`:
where the writer threads wait), written as speedscope files `PREFIX-gil.json` /
`PREFIX-wall.json` and summarised by own time (`PREFIX-summary.json`), plus PostgreSQL's
own view: the state and wait event of the service's backends, sampled.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
from ingest import BARE_APP, CONFIG, KEY, LUA, run_wrk, start, stop, stored_events
from ingest import write_requests as _write_requests

ROOT = Path(__file__).resolve().parents[1]
assert 'url = "sqlite:///{db}"' in CONFIG
PG_CONFIG = CONFIG.replace('url = "sqlite:///{db}"', 'url = "{db}"')
UVICORN_FLAGS = ["--loop", "uvloop", "--http", "httptools", "--no-access-log"]
UVICORN_FLAGS += ["--log-level", "warning"]
TICK = os.sysconf("SC_CLK_TCK")
GOAL = 0.8  # PostgreSQL ingest on one replica >= 0.8 x the SQLite figure
ROWS_PER_SECOND = 10_000  # distinct events per second of load in each request file


def write_requests(path: Path, seconds: float, prefix: str) -> Path:
    """Enough distinct events that wrk never sends one twice in `seconds`."""
    _write_requests(path, max(2_000, int(seconds * ROWS_PER_SECOND)), prefix)
    return path


# PostgreSQL cluster -----------------------------------------------------------------------
class Cluster:
    """A throw-away cluster from `scripts/postgres`, stopped by `close` whatever happened."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.url = subprocess.run(
            [str(ROOT / "scripts/postgres"), "start", str(directory), str(port)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout.strip()

    def close(self) -> None:
        subprocess.run(
            [str(ROOT / "scripts/postgres"), "stop", str(self.directory)],
            capture_output=True,
            timeout=120,
            check=False,
        )

    def database_url(self, name: str) -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def admin(self, statement: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement.encode())

    def postmaster(self) -> int:
        return int((self.directory / "data/postmaster.pid").read_text().split()[0])

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, WAL writer, checkpointer...)."""
        master = self.postmaster()
        return [master, *_children(master)]

    def pin(self, cpu: int) -> None:
        """Every server process on `cpu`; backends forked later inherit the postmaster's."""
        for pid in self.pids():
            subprocess.run(
                ["taskset", "-a", "-p", "-c", str(cpu), str(pid)],
                capture_output=True,
                check=False,  # a backend that just exited
            )

    def cpu_seconds(self) -> float:
        """utime + stime of every server process; exited backends are in the postmaster's
        cutime + cstime once reaped, so the sum only grows."""
        master = self.postmaster()
        total = _cpu(master, children=True)
        for pid in _children(master):
            total += _cpu(pid)
        return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _cpu(pid: int, *, children: bool = False) -> float:
    """CPU seconds of a process (all its threads): utime + stime (+ reaped children's)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, field 3 is fields[0]
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def count_events(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])  # type: ignore[index]


def commits(url: str) -> int:
    """Transactions committed in this database (PostgreSQL's statistics)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0


# one run ----------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, cluster: Cluster) -> None:
        self.args = args
        self.work = work
        self.cluster = cluster
        self.script = work / "requests.lua"
        self.script.write_text(LUA)
        (work / "bare_app.py").write_text(BARE_APP)
        self.python = sys.executable

    def next_port(self) -> int:
        return free_port()  # other benchmarks may run on this machine at the same time

    def serve(self, config: Path) -> tuple[subprocess.Popen[bytes], int]:
        port = self.next_port()
        command = [self.python, "-m", "connector", "serve", "--config", str(config)]
        return start([*command, "--port", str(port)], port, {"PYTHONWARNINGS": "ignore"}), port

    def wrk(self, ports: list[int], requests: list[Path], seconds: float) -> list[dict[str, Any]]:
        """One wrk per server, all at once, the connections split between them."""
        c = self.args.connections
        shares = [c // len(ports) + (1 if i < c % len(ports) else 0) for i in range(len(ports))]
        with ThreadPoolExecutor(len(ports)) as pool:
            runs = [
                pool.submit(run_wrk, port, self.script, path, int(seconds), share)
                for port, path, share in zip(ports, requests, shares, strict=True)
            ]
            return [run.result() for run in runs]

    def measure(
        self,
        servers: list[subprocess.Popen[bytes]],
        ports: list[int],
        requests: list[Path],
        pg_cpu: int | None = None,
    ) -> dict[str, Any]:
        """The measured load, with the CPU time of everything that took part: each server,
        PostgreSQL's processes (when `pg_cpu` says where they run), the wrk processes, and
        each core's busy time over the same window (to see other work on the machine)."""
        apps = [_cpu(s.pid) for s in servers]
        pg = self.cluster.cpu_seconds() if pg_cpu is not None else 0.0
        wrk = _reaped_children()
        cores = _busy()
        runs = self.wrk(ports, requests, self.args.duration)
        busy, window = _since(cores)
        figures = _combine(runs)
        figures["app_cpu_s"] = [_cpu(s.pid) - a for s, a in zip(servers, apps, strict=True)]
        if pg_cpu is not None:
            figures["pg_cpu_s"] = self.cluster.cpu_seconds() - pg
            figures["pg_cpu"] = pg_cpu
        figures["wrk_cpu_s"] = _reaped_children() - wrk
        figures["busy_s"], figures["window_s"] = busy, window
        return figures

    # variants ---------------------------------------------------------------------------
    def bare(self, tag: str) -> dict[str, Any]:
        port = self.next_port()
        app = ["-m", "uvicorn", "bare_app:app", "--app-dir", str(self.work)]
        server = start([self.python, *app, "--port", str(port), *UVICORN_FLAGS], port)
        requests = self.work / f"bare-{tag}.tsv"
        _write_requests(requests, 2000, f"B{tag}")
        try:
            if self.args.warmup:
                self.wrk([port], [requests], self.args.warmup)
            figures = self.measure([server], [port], [requests])
        finally:
            stop(server)
        return _finish(figures)

    def sqlite(self, tag: str) -> dict[str, Any]:
        db = self.work / f"sqlite-{tag}.db"
        config = self._config(CONFIG, db, tag)
        requests = write_requests(self.work / f"s-{tag}.tsv", self.args.duration, f"S{tag}")
        warm = write_requests(self.work / f"sw-{tag}.tsv", self.args.warmup, f"SW{tag}")
        server, port = self.serve(config)
        try:
            if self.args.warmup:
                self.wrk([port], [warm], self.args.warmup)
            stored = stored_events(db)
            figures = self.measure([server], [port], [requests])
        finally:
            stop(server)
        figures["stored"] = stored_events(db) - stored
        db.unlink(missing_ok=True)
        return _finish(figures)

    def postgres(self, tag: str, *, replicas: int, pg_cpu: int) -> dict[str, Any]:
        name = f"bench_{tag}".lower()
        self.cluster.admin(f"CREATE DATABASE {name}")
        url = self.cluster.database_url(name)
        self.cluster.pin(pg_cpu)
        config = self._config(PG_CONFIG, url, tag)
        letters = "ABCDEFGH"[:replicas]
        seconds = self.args.duration
        requests = [
            write_requests(self.work / f"p{x}-{tag}.tsv", seconds, f"P{x}{tag}") for x in letters
        ]
        warm = [
            write_requests(self.work / f"pw{x}-{tag}.tsv", self.args.warmup, f"PW{x}{tag}")
            for x in letters
        ]
        servers: list[subprocess.Popen[bytes]] = []
        try:
            ports = []
            for _ in range(replicas):  # one after the other: the first applies the schema
                server, port = self.serve(config)
                servers.append(server)
                ports.append(port)
            self.cluster.pin(pg_cpu)  # the replicas' pooled backends
            if self.args.warmup:
                self.wrk(ports, warm, self.args.warmup)
            self.cluster.admin("CHECKPOINT")
            stored = count_events(url)
            figures = self.measure(servers, ports, requests, pg_cpu)
        finally:
            for server in servers:
                stop(server)
        figures["stored"] = count_events(url) - stored
        total = count_events(url)
        figures["events_per_commit"] = round(total / max(commits(url), 1), 1)
        self.cluster.admin(f"DROP DATABASE {name} WITH (FORCE)")
        return _finish(figures)

    def _config(self, template: str, db: object, tag: str) -> Path:
        config = self.work / f"{tag}.toml"
        config.write_text(
            template.format(
                db=db,
                key=KEY,
                bots="false",
                synchronous="FULL",
                nice=10,
                mode="external",
                settle=2.0,
            )
        )
        return config

    # profile ----------------------------------------------------------------------------
    def profile(self, prefix: str) -> dict[str, Any]:
        """One replica on PostgreSQL (server on CPU 0) under wrk, sampled by py-spy."""
        spy = shutil.which("py-spy") or str(Path(self.python).with_name("py-spy"))
        if not Path(spy).exists():
            sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
        seconds = self.args.profile_seconds
        name = "bench_profile"
        self.cluster.admin(f"CREATE DATABASE {name}")
        url = self.cluster.database_url(name)
        self.cluster.pin(0)
        config = self._config(PG_CONFIG, url, "profile")
        load = len(PROFILES) * seconds + 8
        requests = write_requests(self.work / "profile.tsv", load, "PROF")
        warm = write_requests(self.work / "profile-warm.tsv", self.args.warmup or 2, "PROFW")
        server, port = self.serve(config)
        out: dict[str, Any] = {}
        try:
            self.cluster.pin(0)
            self.wrk([port], [warm], self.args.warmup or 2)
            with ThreadPoolExecutor(1) as pool:
                loaded = pool.submit(self.wrk, [port], [requests], load)
                time.sleep(1)
                waits = self._sample_waits(url, seconds=1.5)
                for kind, extra in PROFILES:
                    path = f"{prefix}-{kind}.json"
                    subprocess.run(
                        [
                            "taskset",
                            "-c",
                            "1",
                            spy,
                            "record",
                            "--pid",
                            str(server.pid),
                            "--duration",
                            str(seconds),
                            "--rate",
                            "200",
                            "--format",
                            "speedscope",
                            "-o",
                            path,
                            "--threads",
                            *extra,
                        ],
                        capture_output=True,
                        check=True,
                        timeout=seconds + 60,
                    )
                    out[kind] = summarise(Path(path))
                    out[kind]["file"] = path
                (figures,) = loaded.result()
            out["load"] = {k: figures[k] for k in ("rps", "p50_ms", "p99_ms", "non2xx")}
            out["pg_waits"] = waits
        finally:
            stop(server)
            self.cluster.admin(f"DROP DATABASE {name} WITH (FORCE)")
        return out

    def _sample_waits(self, url: str, seconds: float) -> dict[str, Any]:
        """What the service's backends were doing (state and wait event), sampled every
        10 ms: the average number of backends in each, over the samples."""
        seen: Counter[str] = Counter()
        samples = 0
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                ).fetchall()
                samples += 1
                for state, kind, event in rows:
                    wait = f"{kind}:{event}" if kind else "on CPU / runnable"
                    seen[f"{state}, {wait}"] += 1
                time.sleep(0.01)
        return {
            "samples": samples,
            "backends": {k: round(v / samples, 2) for k, v in seen.most_common()},
        }


def profile_report(out: dict[str, Any], seconds: int) -> str:
    """The profile in words: own time under the GIL, where the writer threads wait."""
    gil, wall = out["gil"], out["wall"]
    requests = out["load"]["rps"] * seconds
    per = gil["seconds"] / requests * 1e6  # us of GIL time per request during the sample
    lines = [
        f"py-spy, one replica on PostgreSQL (server on CPU 0) under wrk at"
        f" {out['load']['rps']:.0f} req/s: the GIL was held {gil['seconds']} s of {seconds} s"
        f" (~{per:.0f} us per request)",
        "  own time under the GIL (share, ~us per request):",
    ]
    lines += [f"    {share:6.1%} {share * per:5.1f} us  {name}" for name, share in gil["own"]]
    lines.append("  inclusive, project functions:")
    lines += [
        f"    {share:6.1%} {share * per:5.1f} us  {name}"
        for name, share in gil["inclusive"]
        if share < 0.8
    ]
    for thread, data in wall["threads"].items():
        if thread == "MainThread" or thread.startswith("pg-writer"):
            lines.append(f"  wall clock of {thread}, by the deepest project line it was under:")
            lines += [f"    {share:6.1%}  {name}" for name, share in data["under"]]
    lines.append(
        f"  PostgreSQL backends of the service, average number in each state"
        f" ({out['pg_waits']['samples']} samples of pg_stat_activity):"
    )
    lines += [f"    {n:5.2f}  {state}" for state, n in out["pg_waits"]["backends"].items()]
    return "\n".join(lines)


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several wrk processes at once: rates and counts add up; the worst latency is kept."""
    figures: dict[str, Any] = {
        "rps": sum(r["rps"] for r in runs),
        "p50_ms": max(r["p50_ms"] for r in runs),
        "p99_ms": max(r["p99_ms"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
    }
    if len(runs) > 1:
        figures["rps_each"] = [round(r["rps"]) for r in runs]
    figures["acked_each"] = [r["requests"] - r["non2xx"] for r in runs]
    return figures


def _finish(figures: dict[str, Any]) -> dict[str, Any]:
    acked = figures["requests"] - figures["non2xx"]
    figures["acked"] = acked
    if "stored" in figures:
        figures["acked_but_missing"] = max(0, acked - figures["stored"])
    each = figures.get("acked_each", [acked])
    figures["app_us_per_req"] = [  # each replica's CPU over the requests it answered
        round(s * 1e6 / max(n, 1)) for s, n in zip(figures["app_cpu_s"], each, strict=True)
    ]
    ours = [sum(figures["app_cpu_s"]), figures["wrk_cpu_s"]]  # on CPU 0, on CPU 1
    if "pg_cpu_s" in figures:
        figures["pg_us_per_req"] = round(figures["pg_cpu_s"] * 1e6 / max(acked, 1))
        ours[figures["pg_cpu"]] += figures["pg_cpu_s"]
    # How busy each core was, and how much of that was ours (CPU 0: the service, CPU 1: wrk,
    # and PostgreSQL where it is pinned): well below 1, other work on the machine had the core.
    for cpu in (0, 1):
        busy = figures["busy_s"][cpu]
        figures[f"cpu{cpu}_busy"] = round(busy / figures["window_s"], 2)
        figures[f"cpu{cpu}_ours"] = round(min(ours[cpu] / max(busy, 1e-9), 1.0), 2)
    figures["loadavg"] = round(os.getloadavg()[0], 1)
    return figures


def _busy() -> tuple[list[float], float]:
    """(seconds each of CPU 0 and 1 has been busy since boot, not idle nor waiting for I/O;
    now)."""
    busy = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(("cpu0 ", "cpu1 ")):
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
            busy[line[3]] = (user + nice + system + irq + softirq + steal) / TICK
    return [busy["0"], busy["1"]], time.monotonic()


def _reaped_children() -> float:
    """CPU seconds of this process's children that have exited (the wrk processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _since(start: tuple[list[float], float]) -> tuple[list[float], float]:
    """(busy seconds of CPU 0 and 1, wall seconds) since `start`."""
    busy, now = _busy()
    return [b - a for a, b in zip(start[0], busy, strict=True)], now - start[1]


# py-spy summaries -------------------------------------------------------------------------
# gil: only the thread holding the GIL is sampled, i.e. the process's Python CPU time (py-spy's
# own idle detection counted threads blocked in psycopg's waits as busy); wall: every thread at
# every sample, idle included, to see where the writer threads wait.
PROFILES = (("gil", ["--gil"]), ("wall", ["--idle"]))


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """A speedscope file from py-spy: seconds of samples per function, overall and per
    thread: own time (the leaf frame), inclusive time of the project's functions (each once
    per stack), and the deepest project line a thread was under (what it was waiting in)."""
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    names = [f"{f['name']} ({_short(f.get('file', ''))})" for f in frames]
    lines = [f"{f['name']} ({_short(f.get('file', ''))}:{f.get('line', '')})" for f in frames]
    ours = [_ours(f.get("file", "")) for f in frames]
    overall: dict[str, Counter[str]] = {"own": Counter(), "inclusive": Counter()}
    threads: dict[str, dict[str, Any]] = {}
    for profile in data["profiles"]:
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        under: Counter[str] = Counter()
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            own[names[stack[-1]]] += weight
            for name in {names[i] for i in stack if ours[i]}:
                inclusive[name] += weight
            deepest = next((i for i in reversed(stack) if ours[i]), None)
            under[lines[deepest] if deepest is not None else "(no project frame)"] += weight
        overall["own"].update(own)
        overall["inclusive"].update(inclusive)
        total = sum(own.values())
        if total:
            threads[
                profile["name"].split('"')[1] if '"' in profile["name"] else profile["name"]
            ] = {
                "seconds": round(total, 2),
                "own": _shares(own, total, 6),
                "under": _shares(under, total, 6),
            }
    grand = sum(overall["own"].values())
    return {
        "seconds": round(grand, 2),
        "own": _shares(overall["own"], grand, top),
        "inclusive": _shares(overall["inclusive"], grand, top),
        "threads": threads,
    }


def _shares(counter: Counter[str], total: float, top: int) -> list[tuple[str, float]]:
    return [(k, round(v / total, 3)) for k, v in counter.most_common(top)] if total else []


def _ours(file: str) -> bool:
    return file.startswith(str(ROOT) + "/") and "/.venv/" not in file


def _short(file: str) -> str:
    for marker in ("/site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


# the report -------------------------------------------------------------------------------
SERVICES = ["sqlite", "pg_cpu0", "pg_cpu1", "pg2"]
LABELS = {
    "bare": "bare Starlette",
    "sqlite": "SQLite, ingest only",
    "pg_cpu0": "PostgreSQL, 1 replica, server on CPU 0",
    "pg_cpu1": "PostgreSQL, 1 replica, server on CPU 1 (with wrk)",
    "pg2": "PostgreSQL, 2 replicas (total), server on CPU 0",
}


def _cost(run: dict[str, Any]) -> float:
    """CPU seconds per request answered, everything serving included (replicas, server)."""
    return float((sum(run["app_cpu_s"]) + run.get("pg_cpu_s", 0.0)) / max(run["acked"], 1))


QUIET = 0.9  # a run was ours when our processes had >= this share of each core's busy time


def _quiet(run: dict[str, Any]) -> bool:
    return bool(run["cpu0_ours"] >= QUIET and run["cpu1_ours"] >= QUIET)


def _median_ratio(pairs: Any) -> float:
    return round(float(statistics.median(a / b for a, b in pairs)), 3)


def summary(results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the rounds; every ratio is taken inside its round first."""
    out: dict[str, Any] = {}
    bare, sqlite = results["bare"], results.get("sqlite") or []
    for name, runs in results.items():
        if not runs:
            continue
        row: dict[str, Any] = {
            "rps_median": round(statistics.median(r["rps"] for r in runs)),
            "ratio_to_bare_median": _median_ratio(
                (r["rps"], b["rps"]) for r, b in zip(runs, bare, strict=True)
            ),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in runs),
            "app_us_per_req_median": [
                round(statistics.median(r["app_us_per_req"][i] for r in runs))
                for i in range(len(runs[0]["app_us_per_req"]))
            ],
            "cpu_us_per_req_median": round(statistics.median(_cost(r) for r in runs) * 1e6),
            "cpu0_busy_median": statistics.median(r["cpu0_busy"] for r in runs),
            "cpu0_ours": [r["cpu0_ours"] for r in runs],
            "cpu1_ours": [r["cpu1_ours"] for r in runs],
            "loadavg": [r["loadavg"] for r in runs],
        }
        if "pg_us_per_req" in runs[0]:
            row["pg_us_per_req_median"] = round(statistics.median(r["pg_us_per_req"] for r in runs))
            row["events_per_commit_median"] = statistics.median(
                r["events_per_commit"] for r in runs
            )
        if "acked_but_missing" in runs[0]:
            row["acked_but_missing_total"] = sum(r["acked_but_missing"] for r in runs)
            row["non2xx_total"] = sum(r["non2xx"] for r in runs)
            row["socket_error_runs"] = sum(r["socket_errors"] for r in runs)
        if name not in ("bare", "sqlite") and sqlite:
            row["ratio_to_sqlite_median"] = _median_ratio(
                (r["rps"], s["rps"]) for r, s in zip(runs, sqlite, strict=True)
            )
            # the same comparison by CPU cost: what one core would do if it were all ours
            row["cost_ratio_to_sqlite_median"] = _median_ratio(
                (_cost(s), _cost(r)) for r, s in zip(runs, sqlite, strict=True)
            )
            # the same, over the rounds where neither run shared a core with other work
            quiet = [(r, s) for r, s in zip(runs, sqlite, strict=True) if _quiet(r) and _quiet(s)]
            row["quiet_rounds"] = len(quiet)
            if quiet:
                row["ratio_to_sqlite_quiet"] = _median_ratio((r["rps"], s["rps"]) for r, s in quiet)
                row["cost_ratio_to_sqlite_quiet"] = _median_ratio(
                    (_cost(s), _cost(r)) for r, s in quiet
                )
        out[name] = row
    return out


def verdicts(table: dict[str, Any]) -> str:
    lines = []
    for name, row in table.items():
        cpu = " + ".join(str(x) for x in row["app_us_per_req_median"])
        extra = (
            f" + PostgreSQL {row['pg_us_per_req_median']}" if "pg_us_per_req_median" in row else ""
        )
        missing = (
            f"; acknowledged but missing {row['acked_but_missing_total']}"
            if "acked_but_missing_total" in row
            else ""
        )
        lines.append(
            f"{LABELS[name]}: {row['rps_median']} req/s, {row['ratio_to_bare_median']} x bare,"
            f" p99 {row['p99_ms_median']} ms; CPU per request {cpu}{extra} us{missing}"
        )
    worst = min(min(row["cpu0_ours"] + row["cpu1_ours"]) for row in table.values())
    if worst < 0.85:
        lines.append(
            f"CAUTION: other work on the machine had our cores too (in some run ours was only"
            f" {worst:.0%} of a core's busy time; see cpu0_ours / cpu1_ours): throughput ratios"
            " then favour the variants with more processes; the ratios by CPU cost are steadier"
        )
    pg1 = table.get("pg_cpu0")
    if pg1 is not None and "ratio_to_sqlite_median" in pg1:
        one, cost = pg1["ratio_to_sqlite_median"], pg1["cost_ratio_to_sqlite_median"]
        lines.append(
            f"PostgreSQL ingest, one replica, server on the same core: {one} x SQLite's req/s"
            f" (goal >= {GOAL}: {'met' if one >= GOAL else 'NOT met'}); by CPU cost per request"
            f" {cost} x ({'met' if cost >= GOAL else 'NOT met'})"
        )
        lines.append(
            f"  over the {pg1['quiet_rounds']} rounds where both runs had both cores"
            f" (>= {QUIET:.0%} ours): {pg1.get('ratio_to_sqlite_quiet', '-')} x by req/s,"
            f" {pg1.get('cost_ratio_to_sqlite_quiet', '-')} x by CPU cost"
        )
    other = table.get("pg_cpu1")
    if other is not None and "ratio_to_sqlite_median" in other:
        lines.append(
            f"  with the PostgreSQL server on wrk's core instead: {other['ratio_to_sqlite_median']}"
            f" x SQLite's req/s"
        )
    two = table.get("pg2")
    if two is not None:
        apps = two["app_us_per_req_median"]
        pg = two["pg_us_per_req_median"]
        app = statistics.mean(apps)
        lines.append(
            f"two replicas on one core: {two['rps_median']} req/s in total"
            f" ({two['ratio_to_bare_median']} x bare, {two.get('ratio_to_sqlite_median')} x"
            f" SQLite); per request, {' and '.join(map(str, apps))} us of each replica's CPU"
            f" (over the requests it answered) + {pg} us of PostgreSQL's"
        )
        lines.append(
            f"  so with a core per replica and one for PostgreSQL: each replica up to"
            f" ~{1e6 / app:,.0f} req/s, one PostgreSQL core up to ~{1e6 / pg:,.0f} req/s"
            f" (it keeps up with ~{app / pg:.1f} replica cores)"
        )
    if all("acked_but_missing_total" in row for n, row in table.items() if n != "bare"):
        total = sum(row.get("acked_but_missing_total", 0) for row in table.values())
        lines.append(
            f"acknowledged but missing events, all runs: {total}"
            f" (goal 0: {'met' if total == 0 else 'NOT met'})"
        )
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each run")
    parser.add_argument(
        "--placements",
        default="cpu0,cpu1",
        help="where the PostgreSQL server runs for one replica: cpu0 (with the service),"
        " cpu1 (with wrk); two replicas always run with the server on CPU 0",
    )
    parser.add_argument(
        "--variants",
        default="sqlite,pg_cpu0,pg_cpu1,pg2",
        help="which service variants to run besides bare (a quicker check: sqlite,pg_cpu0)",
    )
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy the one-replica server")
    parser.add_argument("--profile-seconds", type=int, default=10)
    args = parser.parse_args()
    if args.connections < 2:
        parser.error("--connections must be at least 2 (two replicas get half each)")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (Debian: apt-get install wrk util-linux)")
    wanted = set(args.variants.split(","))
    if wanted - set(SERVICES):
        parser.error(f"--variants: choose from {','.join(SERVICES)}")
    services = [
        s
        for s in SERVICES
        if s in wanted and (not s.startswith("pg_cpu") or s[3:] in args.placements)
    ]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally blocks still run
    work = Path(tempfile.mkdtemp(prefix="connector-replicas-"))
    pgdir = Path(tempfile.mkdtemp(prefix="connector-replicas-pg-"))  # scripts/postgres owns it
    started = time.monotonic()
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores)", flush=True)
    cluster: Cluster | None = None
    try:
        cluster = Cluster(pgdir, free_port())
        bench = Bench(args, work, cluster)
        results: dict[str, list[dict[str, Any]]] = {"bare": [], **{s: [] for s in services}}
        for number in range(args.rounds):
            shift = number % len(services)
            order = services[shift:] + services[:shift]
            results["bare"].append(bench.bare(f"{number}"))
            for name in order:
                tag = f"{name}r{number}"
                if name == "sqlite":
                    figures = bench.sqlite(tag)
                elif name == "pg2":
                    figures = bench.postgres(tag, replicas=2, pg_cpu=0)
                else:
                    figures = bench.postgres(tag, replicas=1, pg_cpu=int(name[-1]))
                results[name].append(figures)
            ratios = {
                n: round(r[-1]["rps"] / results["bare"][-1]["rps"], 3) for n, r in results.items()
            }
            print(f"round {number + 1} ({' '.join(['bare', *order])}): x bare {json.dumps(ratios)}")
            print(json.dumps({k: v[-1] for k, v in results.items()}), flush=True)
        if args.rounds:
            table = summary(results)
            print(json.dumps(table, indent=2))
            print(verdicts(table))
        if args.profile:
            out = bench.profile(args.profile)
            Path(f"{args.profile}-summary.json").write_text(json.dumps(out, indent=1))
            print(profile_report(out, args.profile_seconds))
        print(f"({time.monotonic() - started:.0f} s)")
    finally:
        if cluster is not None:
            cluster.close()
        else:
            subprocess.run([str(ROOT / "scripts/postgres"), "stop", str(pgdir)], check=False)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(pgdir, ignore_errors=True)


if __name__ == "__main__":
    main()
