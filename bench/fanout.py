"""Fan-out benchmark: one worker draining stored deliveries against a plain aiohttp loop.

A minimal HTTP sink (raw asyncio on uvloop, answers 200 to every request, keep-alive) runs
on CPU 1. For each fan-out (1 and 5 http actions per event, every action signed with a
Standard Webhooks secret, all on the sink's 127.0.0.1 port) a SQLite store is prefilled
once through the real ingest (`connector.pipeline.ingest.ingest`: signed Customer.io
clicks, verified, parsed and stored) and routed by the real processor, so the outbox holds
`events x actions` due deliveries; each measurement copies that file.

Each round then measures, in alternating order, on CPU 0:

* **worker**: the real `connector worker` on the copy (bots off: only the delivery loop
  has work). Its rate is the deliveries over the time from its first attempt to the moment
  the outbox is empty (polled from CPU 1), so start-up and imports stay out.
* **aiohttp loop**: a plain `aiohttp.ClientSession` loop (uvloop, the same number of
  connections as the worker's concurrency) POSTing the very bodies stored in the outbox.
* **httpx-over-aiohttp loop**: the same loop through an `httpx.AsyncClient` over
  httpx-aiohttp's transport: aiohttp's engine under httpx's API.
* **lean** and **direct** loops: prebuilt `httpx.Request`s over our own engine
  (connector/delivery/engine.py), sent with `AsyncClient.send` ("lean") or handed straight
  to the transport's `handle_async_request` ("direct", as the sender does): the ceilings of
  a sender on httpx's API.

The order rotates every round; the summary gives the medians of the in-round ratios
(worker / aiohttp loop; issue 14's bar: >= 0.6 for 1 and for 5 actions), and the worker's
CPU per delivery (/proc, from its first recorded attempt to the empty outbox). "By CPU" is
the aiohttp loop's CPU per request (its process time while sending) over the worker's per
delivery: on a shared host a loop that gets less of CPU 0 sends slower but not dearer, so
this ratio moves less with the neighbours than the rates do.

    flock /tmp/bench.lock .venv/bin/python bench/fanout.py [--events 1000] [--rounds 3]
        [--actions 1,5] [--profile SECONDS [--gil]] [--variant NAME=SCRIPT]

`--profile` records the last round's worker with py-spy (`py-spy top`-style summary);
`--gil` samples only the thread holding the GIL: a view of Python's CPU, where the default
also counts threads waiting for the GIL or in SQLite's commit.
Needs `taskset` (util-linux) and 2 cores; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-signing-key"
PROFILE = Path(tempfile.gettempdir()) / "fanout-profile.txt"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
CONFIG = """
[storage]
url = "sqlite:///{db}"

[bots]
enabled = false

[delivery]
allow_networks = ["127.0.0.0/8"]
concurrency = {concurrency}
{delivery}

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["{key}"]

[[rules]]
id = "all-clicks"
actions = [{action_ids}]
"""
ACTION = """
[[actions]]
id = "a{index}"
type = "http"
url = "http://127.0.0.1:{port}/hook/{index}"
secret = "{secret}"
"""


# --- the sink (CPU 1) ----------------------------------------------------------------------
class SinkProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive: answer each complete request (content-length framed) with 200."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at) % (end + 1)]) if at >= 0 else 0
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            self.transport.write(RESPONSE)


def run_sink(port: int) -> None:
    import uvloop

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(SinkProtocol, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


# --- the baseline (CPU 0) ------------------------------------------------------------------
def run_loop(db: Path, port: int, concurrency: int, api: str) -> None:
    """POST every stored body to its action's URL with a plain loop; print JSON. `api`:
    "aiohttp" (a ClientSession), "httpx" (`client.post` on an httpx.AsyncClient over
    httpx-aiohttp's transport: aiohttp's engine under httpx's API) or "lean" (`client.send`
    of a prebuilt request, URL parsed once, over connector/delivery/engine.py) or "direct"
    (an `httpx.Request` built as the sender builds it, handed straight to engine.py's
    `handle_async_request`, httpx's transport interface, as the sender does: the least any
    sender on httpx's API can do per request with our engine)."""
    import aiohttp
    import httpx
    import uvloop
    from httpx_aiohttp import AiohttpTransport

    from connector.delivery.engine import AiohttpEngine

    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT action_id, body FROM deliveries JOIN delivery_bodies USING (id)"
        ).fetchall()
    jobs = [(f"http://127.0.0.1:{port}/hook/{action[1:]}", body) for action, body in rows]
    headers = {"content-type": "application/json"}

    async def with_aiohttp(queue: Iterator[tuple[str, bytes]]) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

            async def worker() -> None:
                for url, body in queue:
                    async with s.post(url, data=body, headers=headers) as response:
                        await response.read()
                        assert response.status == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def with_httpx(queue: Iterator[tuple[str, bytes]]) -> None:
        def session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async with httpx.AsyncClient(transport=AiohttpTransport(client=session)) as client:

            async def worker() -> None:
                for url, body in queue:
                    response = await client.post(url, content=body, headers=headers)
                    assert response.status_code == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def with_lean(queue: Iterator[tuple[str, bytes]]) -> None:
        def session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        urls = {url: httpx.URL(url) for url, _ in jobs}
        async with httpx.AsyncClient(transport=AiohttpEngine(session)) as client:

            async def worker() -> None:
                for url, body in queue:
                    request = httpx.Request("POST", urls[url], content=body, headers=headers)
                    response = await client.send(request)
                    assert response.status_code == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def with_direct(queue: Iterator[tuple[str, bytes]]) -> None:
        def session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        urls = {url: httpx.URL(url) for url, _ in jobs}
        hosts = {url: parsed.netloc.decode() for url, parsed in urls.items()}
        extensions = {"timeout": httpx.Timeout(10.0).as_dict()}
        transport = AiohttpEngine(session)

        async def worker() -> None:
            for url, body in queue:
                # As the sender builds it: a ready stream, Host and Content-Length set.
                request = httpx.Request(
                    "POST",
                    urls[url],
                    headers={**headers, "Host": hosts[url], "Content-Length": str(len(body))},
                    stream=httpx.ByteStream(body),
                    extensions=extensions,
                )
                request.read()
                response = await transport.handle_async_request(request)
                await response.aread()
                assert response.status_code == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await transport.aclose()

    async def go() -> float:
        loops = {
            "aiohttp": with_aiohttp,
            "httpx": with_httpx,
            "lean": with_lean,
            "direct": with_direct,
        }
        started = time.perf_counter()
        await loops[api](iter(jobs))
        return time.perf_counter() - started

    cpu = time.process_time()
    seconds = uvloop.run(go())
    cpu = time.process_time() - cpu  # the sending (and the loop's set-up), not the imports
    print(json.dumps({"deliveries": len(jobs), "seconds": seconds, "cpu": cpu}))


# --- prefill ---------------------------------------------------------------------------------
def write_config(folder: Path, db: Path, port: int, actions: int, args: argparse.Namespace) -> Path:
    ids = ", ".join(f'"a{i}"' for i in range(actions))
    text = CONFIG.format(
        db=db, concurrency=args.concurrency, key=KEY, action_ids=ids, delivery=args.delivery
    )
    text += "".join(ACTION.format(index=i, port=port, secret=SECRET) for i in range(actions))
    path = folder / f"connector-{actions}.toml"
    path.write_text(text)
    return path


def prefill(config: Path, events: int) -> None:
    """Store `events` signed clicks through the real ingest, then route them all."""
    sys.path.insert(0, str(ROOT))
    from connector.config import load_settings
    from connector.metrics import Metrics
    from connector.pipeline.build import build_pipeline
    from connector.pipeline.ingest import ingest
    from connector.storage.factory import open_store
    from providers.base import WebhookRequest
    from providers.registry import PROVIDERS

    settings = load_settings(config)
    template = (ROOT / "fixtures/customerio/click.raw").read_bytes()
    source = settings.sources[0].to_source()
    provider = PROVIDERS["customerio"]

    async def go() -> None:
        store = open_store(settings)
        await store.open()
        stamp = str(int(time.time()))
        for i in range(events):
            body = template.replace(b"01HZX3K9Q4V6B8N2M7R5T1W0YA", f"fan{i:023d}".encode())
            body = body.replace(b"RPILAgUBcRhIBqSbvEZotk16z5A=", f"msg-fan-{i}".encode())
            body = body.replace(b"dana@example.org", f"user{i % 500}@example.org".encode())
            signature = hmac.new(
                KEY.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
            )
            headers = {"x-cio-signature": signature.hexdigest(), "x-cio-timestamp": stamp}
            request = WebhookRequest(
                "cio", "POST", "/webhooks/cio", headers, body, "127.0.0.1", datetime.now(UTC)
            )
            await ingest(provider, request, source, store)
        # The real processor, in transactions of its own: the pipeline's routing pass may
        # also claim and start deliveries, and here nothing may be sent or leased.
        processor = build_pipeline(settings, store, Metrics(), client=None).processor  # type: ignore[arg-type]
        while (await store.transaction(lambda tx: processor.process(tx, time.time()))).events:
            pass
        await store.close()

    asyncio.run(go())


# --- one measurement -------------------------------------------------------------------------
def copy_store(template: Path, db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(db) + suffix)
    shutil.copy(template, db)


def pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'").fetchone()
        return int(row[0])


def measure_worker(
    config: Path, db: Path, profile: float, launcher: Path | None = None, gil: bool = False
) -> dict[str, Any]:
    """Run `connector worker` (or `launcher`, a Python script run with the same arguments)
    pinned to CPU 0 until the outbox is empty; `gil`: profile only the thread holding the
    GIL (Python's CPU, without threads waiting for it or in SQLite's C code)."""
    command = [sys.executable, str(launcher)] if launcher else [str(ROOT / ".venv/bin/connector")]
    errors = db.with_suffix(".stderr")
    worker = subprocess.Popen(
        ["taskset", "-c", "0", *command, "worker", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=errors.open("wb"),
        cwd=ROOT,
    )
    spy: subprocess.Popen[bytes] | None = None
    try:
        if profile:
            time.sleep(1.0)  # imports
            spy = subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    "1",
                    str(ROOT / ".venv/bin/py-spy"),
                    "record",
                    "--pid",
                    str(worker.pid),
                    "--duration",
                    str(int(profile)),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(PROFILE),
                    "--nonblocking",
                    *(["--gil"] if gil else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 600
        while not attempted(db) and time.monotonic() < deadline:
            time.sleep(0.005)
        start = threads(worker.pid)
        while pending(db) and time.monotonic() < deadline:
            time.sleep(0.05)
        end = threads(worker.pid)
        if spy is not None:
            spy.wait()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        # From the rows, not `attempts`: a delivery delivered at its first attempt has no
        # attempts row (migration 0009); `at` of a first attempt is its first_attempt_at and
        # of the last one updated_at.
        first, last, count = conn.execute(
            "SELECT MIN(first_attempt_at), MAX(updated_at), COUNT(*) FROM deliveries"
            " WHERE status != 'pending'"
        ).fetchone()
        statuses = dict(conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
    if not count:
        tail = errors.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the worker delivered nothing (exit {worker.returncode}): {tail}")
    seconds = (last - first) * count / max(1, count - 1)
    spent = {
        tid: [e - s for e, s in zip(end[tid], start.get(tid, (0.0, 0)), strict=True)] for tid in end
    }
    writer = [figures for tid, figures in spent.items() if tid != worker.pid]
    return {
        "cpu": sum(cpu for cpu, _ in spent.values()),
        "loop_cpu": spent[worker.pid][0],
        # The other threads are SQLite's writer but for short-lived ones (aiohttp's
        # resolver): their CPU, and the bytes they wrote (WAL frames and checkpoints; the
        # log lines are written by the loop's thread).
        "writer_cpu": sum(cpu for cpu, _ in writer),
        "writer_bytes": sum(written for _, written in writer),
        "deliveries": statuses.get("delivered", 0),
        "finished": count,
        "seconds": seconds,
        "statuses": statuses,
    }


def attempted(db: Path) -> bool:
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT 1 FROM deliveries WHERE first_attempt_at IS NOT NULL LIMIT 1")
        return row.fetchone() is not None


def threads(pid: int) -> dict[int, tuple[float, int]]:
    """Each thread's user + system CPU seconds and bytes written so far (/proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = (task / "stat").read_text().rpartition(")")[2].split()
            io = dict(line.split(": ") for line in (task / "io").read_text().splitlines())
            found[int(task.name)] = ((int(fields[11]) + int(fields[12])) / tick, int(io["wchar"]))
    return found


def measure_loop(db: Path, port: int, concurrency: int, api: str) -> dict[str, Any]:
    output = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            __file__,
            "loop",
            str(db),
            str(port),
            str(concurrency),
            api,
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    figures: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return figures


def summarise_round(figures: dict[str, Any]) -> dict[str, Any]:
    rates = {name: f["deliveries"] / f["seconds"] for name, f in figures.items()}
    worker = figures["worker"]
    row = {
        **rates,
        **{f"{name}_ratio": rate / rates["aiohttp"] for name, rate in rates.items()},
        "ratio": rates["worker"] / rates["aiohttp"],
        # By CPU: the aiohttp loop's per request over the worker's per delivery. Not moved
        # by either side's share of CPU 0 (a starved loop sends slower, not dearer).
        "cpu_ratio": figures["aiohttp"]["cpu"]
        / figures["aiohttp"]["deliveries"]
        / (worker["cpu"] / worker["deliveries"]),
        "aiohttp_cpu_us": figures["aiohttp"]["cpu"] / figures["aiohttp"]["deliveries"] * 1e6,
        "ceiling": rates["httpx"] / rates["aiohttp"],
        "of_ceiling": rates["worker"] / rates["httpx"],
        "statuses": worker["statuses"],
        "cpu_share": worker["cpu"] / worker["seconds"],
    }
    for name, f in figures.items():  # the worker's and each variant's costs per delivery
        if "loop_cpu" in f:
            prefix = "" if name == "worker" else f"{name}_"
            row[f"{prefix}cpu_us"] = f["cpu"] / f["deliveries"] * 1e6
            row[f"{prefix}loop_us"] = f["loop_cpu"] / f["deliveries"] * 1e6
            row[f"{prefix}writer_us"] = f["writer_cpu"] / f["deliveries"] * 1e6
            row[f"{prefix}writer_bytes"] = f["writer_bytes"] / f["deliveries"]
    return row


def costs(row: dict[str, Any], prefix: str = "") -> str:
    """CPU per delivery, by thread, and the writer's bytes (a worker's or a variant's)."""
    return (
        f"{row[prefix + 'cpu_us']:.0f} us per delivery (loop thread "
        f"{row[prefix + 'loop_us']:.0f}, writer {row[prefix + 'writer_us']:.0f} us and "
        f"{row[prefix + 'writer_bytes']:,.0f} bytes)"
    )


def summary(rows: list[dict[str, Any]], variants: list[str]) -> str:
    """The medians over the rounds, and each variant's A/B against the worker: the medians
    of the per-round ratios worker / variant (rate) and variant / worker (CPU a delivery)."""
    medians = {
        field: statistics.median(r[field] for r in rows)
        for field, value in rows[0].items()
        if isinstance(value, float)
    }
    text = (
        f"worker {medians['worker']:,.0f}/s, aiohttp loop {medians['aiohttp']:,.0f}/s, ratio "
        f"{medians['ratio']:.2f} (rounds {', '.join(format(r['ratio'], '.2f') for r in rows)});"
        f" httpx-over-aiohttp loop / aiohttp loop {medians['ceiling']:.2f}; worker CPU "
        f"{costs(medians)}; by CPU {medians['cpu_ratio']:.2f} of the aiohttp loop (rounds "
        f"{', '.join(format(r['cpu_ratio'], '.2f') for r in rows)}; the loop "
        f"{medians['aiohttp_cpu_us']:.0f} us a request)"
    )
    text += "".join(f"; {name} ratio {medians[name + '_ratio']:.2f}" for name in ["lean", "direct"])
    for name in variants:
        rate = [r["worker"] / r[name] for r in rows]
        cpu = [r[f"{name}_cpu_us"] / r["cpu_us"] for r in rows]
        text += (
            f"\n    A/B worker against {name} ({medians[name + '_ratio']:.2f} of the aiohttp "
            f"loop): rate x{statistics.median(rate):.2f} (rounds "
            f"{', '.join(format(x, '.2f') for x in rate)}), {name}'s CPU per delivery / the "
            f"worker's {statistics.median(cpu):.2f} (rounds "
            f"{', '.join(format(x, '.2f') for x in cpu)}); {name} CPU {costs(medians, name + '_')}"
        )
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def profile_summary(path: Path, top: int = 35) -> str:
    """Self and inclusive shares of the worker's samples by function (py-spy raw format)."""
    from collections import Counter

    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():  # a frame name with spaces split across lines
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    lines = [f"samples: {samples}", "self:"]
    lines += [f"  {n / samples:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["inclusive:"]
    lines += [f"  {n / samples:6.1%}  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--actions", default="1,5")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--delivery", default="", help="extra [delivery] lines")
    parser.add_argument("--profile", type=float, default=0.0)
    parser.add_argument("--gil", action="store_true", help="profile the GIL holder only")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SCRIPT",
        help="also measure, in the same rounds, a worker started by SCRIPT (a Python file run "
        "with `worker --config ...`, e.g. one that patches the committed code): an A/B",
    )
    args = parser.parse_args()
    variants = {name: Path(path) for name, _, path in (v.partition("=") for v in args.variant)}
    fanouts = [int(a) for a in args.actions.split(",")]
    work = Path(tempfile.mkdtemp(prefix="fanout-"))
    port = free_port()
    sink = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, __file__, "sink", str(port)], cwd=ROOT
    )
    results: dict[int, list[dict[str, Any]]] = {k: [] for k in fanouts}
    try:
        templates = {}
        for k in fanouts:
            db = work / f"template-{k}.db"
            prefill(write_config(work, db, port, k, args), args.events)
            templates[k] = db
        for round_ in range(args.rounds):
            for k in fanouts:
                db = work / f"run-{k}.db"
                copy_store(templates[k], db)
                config = write_config(work, db, port, k, args)
                profile = args.profile if round_ == args.rounds - 1 else 0.0
                names = ["worker", "aiohttp", "httpx", "lean", "direct", *variants]
                shift = round_ % len(names)  # each goes first in turn
                figures: dict[str, Any] = {}
                for name in names[shift:] + names[:shift]:
                    if name == "worker":
                        figures[name] = measure_worker(config, db, profile, gil=args.gil)
                    elif name in variants:
                        copy_store(templates[k], db)
                        figures[name] = measure_worker(config, db, 0.0, variants[name])
                        copy_store(templates[k], db)  # the committed worker's copy
                    else:
                        figures[name] = measure_loop(templates[k], port, args.concurrency, name)
                row = summarise_round(figures)
                results[k].append(row)
                extra = "".join(
                    f"; {name} {row[name]:,.0f}/s (ratio {row[name + '_ratio']:.2f})"
                    for name in ["lean", "direct", *variants]
                ) + "".join(f"; {name} CPU {costs(row, name + '_')}" for name in variants)
                print(
                    f"round {round_ + 1} actions={k}: worker {row['worker']:,.0f}/s, "
                    f"aiohttp loop {row['aiohttp']:,.0f}/s (ratio {row['ratio']:.2f}), "
                    f"httpx-over-aiohttp loop {row['httpx']:,.0f}/s (ratio {row['ceiling']:.2f} "
                    f"of the aiohttp loop); {row['statuses']}; worker CPU "
                    f"{row['cpu_share']:.0%} of a core, {costs(row)}; by CPU {row['cpu_ratio']:.2f}"
                    f" of the aiohttp loop ({row['aiohttp_cpu_us']:.0f} us a request){extra}",
                    flush=True,
                )
                if profile and PROFILE.exists():
                    print(profile_summary(PROFILE), flush=True)
        print("\nmedians (deliveries/s; ratio = worker / aiohttp loop, goal >= 0.60):")
        for k in fanouts:
            print(f"  {k} action(s) per event: {summary(results[k], list(variants))}")
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "sink":
        run_sink(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "loop":
        run_loop(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        main()
