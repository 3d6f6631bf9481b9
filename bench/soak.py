"""Memory soak: ingest and deliver 1,000,000 clicks; the RSS of both processes every 100k.

`connector serve` in its default layout (web process + worker process, bot detector on,
SQLite) pinned to CPU 0, one rule sending every click to an http action, a counting
receiver on CPU 1. This process (CPU 1) posts signed Customer.io clicks, each a distinct
event (two clicks per message, 20,000 recipients, 200 campaigns, 50 links), as fast as the
service takes them, but never more than `--backlog` ahead of what the receiver has got, so
the run measures the pipeline's steady state rather than a growing queue. Every
`--every` acknowledged clicks it reads VmRSS of the web process and of its worker.

    .venv/bin/python bench/soak.py [--events 1000000] [--every 100000] [--probe [--trace]]

`--probe` adds, to each sample, the worker's own account of its memory (SIGUSR1: see
`connector/memory_probe.py`): anonymous against file-backed RSS, glibc's heap in use and
free, SQLite's allocator, the object types that grew; `--trace` runs the service under
`tracemalloc` (slower) so the source lines that grew are named too.

Goal (issue 14): each process's RSS within +-10 % of its value at 200k, up to 1M. Needs
`taskset`, aiohttp (the dev extra) and 2 cores; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
from ingest import KEY, ROOT  # bench/ingest.py
from latency import service_and_receiver  # bench/latency.py

SERVICE_PORT, SINK_PORT = 18310, 18311
RECEIVER_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

got = 0


async def sink(request):
    global got
    await request.body()
    got += 1
    return Response(status_code=200)


app = Starlette(routes=[
    Route("/sink", sink, methods=["POST"]),
    Route("/count", lambda request: PlainTextResponse(str(got))),
    Route("/healthz", lambda request: PlainTextResponse("ok")),
])
"""
TEMPLATE = (ROOT / "fixtures/customerio/click.raw").read_bytes()
CONCURRENCY = 32


def click(i: int) -> tuple[bytes, dict[str, str]]:
    """The i-th distinct click, signed now."""
    body = TEMPLATE.replace(b"01HZX3K9Q4V6B8N2M7R5T1W0YA", f"soak{i:020d}".encode())
    body = body.replace(b"RPILAgUBcRhIBqSbvEZotk16z5A=", f"msg-soak-{i // 2}".encode())
    body = body.replace(b"dana@example.org", f"user{i % 20_000}@example.org".encode())
    body = body.replace(b'"campaign_id":42', f'"campaign_id":{i % 200}'.encode())
    body = body.replace(b"/spring?", f"/page-{i % 50}?".encode())
    stamp = str(int(time.time()))
    signature = hmac.new(KEY.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-cio-timestamp": stamp,
        "x-cio-signature": signature.hexdigest(),
    }
    return body, headers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


class Reports:
    """The worker's `memory.report` log lines (the service logs to the file on its stderr)."""

    def __init__(self, serve_pid: int) -> None:
        self.log = Path(os.readlink(f"/proc/{serve_pid}/fd/2"))
        self.offset = self.log.stat().st_size

    async def take(self, pid: int) -> dict[str, Any]:
        os.kill(pid, signal.SIGUSR1)
        for _ in range(100):
            await asyncio.sleep(0.2)
            with self.log.open("rb") as log:
                log.seek(self.offset)
                lines = log.read().splitlines()
            for number, line in enumerate(lines):
                if b'"memory.report"' in line:
                    self.offset += sum(len(earlier) + 1 for earlier in lines[: number + 1])
                    report: dict[str, Any] = json.loads(line)
                    return {k: v for k, v in report.items() if k not in ("level", "timestamp")}
        return {"error": "no memory.report in 20 s"}


def worker_pid(serve_pid: int) -> int:
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children").read_text().split()
    return int(children[0])


class Load:
    """Posts clicks with bounded concurrency and a bounded lead over the receiver."""

    def __init__(self, session: aiohttp.ClientSession, backlog: int) -> None:
        self.session = session
        self.backlog = backlog
        self.acked = 0
        self.failed = 0
        self.delivered = 0

    async def delivered_now(self) -> int:
        async with self.session.get(f"http://127.0.0.1:{SINK_PORT}/count") as response:
            self.delivered = int(await response.text())
        return self.delivered

    async def caught_up(self, lead: int, limit: float) -> None:
        """Return once the receiver is at most `lead` clicks behind (polled: it is another
        process), or after `limit` seconds."""
        for _ in range(int(limit / 0.2)):
            if self.acked - await self.delivered_now() <= lead:
                return
            await asyncio.sleep(0.2)

    async def post(self, i: int) -> None:
        body, headers = click(i)
        url = f"http://127.0.0.1:{SERVICE_PORT}/webhooks/cio"
        async with self.session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status == 200:
                self.acked += 1
            else:
                self.failed += 1

    async def run(self, start: int, end: int) -> None:
        """Post clicks `start`..`end`-1, pausing while the receiver lags `backlog` behind."""
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=CONCURRENCY * 2)

        async def poster() -> None:
            while (i := await queue.get()) >= 0:
                await self.post(i)

        posters = [asyncio.create_task(poster()) for _ in range(CONCURRENCY)]
        for i in range(start, end):
            if i % 1000 == 0:
                await self.caught_up(self.backlog, limit=600)
            await queue.put(i)
        for _ in posters:
            await queue.put(-1)
        await asyncio.gather(*posters)


async def soak(
    events: int, every: int, backlog: int, serve_pid: int, probe: bool
) -> list[dict[str, Any]]:
    worker = worker_pid(serve_pid)
    reports = Reports(serve_pid) if probe else None
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        load = Load(session, backlog)
        for start in range(0, events, every):
            await load.run(start, min(events, start + every))
            sample: dict[str, Any] = {
                "events": load.acked,
                "failed": load.failed,
                "delivered": await load.delivered_now(),
                "web_rss_mb": rss_mb(serve_pid),
                "worker_rss_mb": rss_mb(worker),
                "seconds": round(time.monotonic() - started, 1),
            }
            if reports is not None:
                sample["worker"] = await reports.take(worker)
            print(json.dumps(sample), flush=True)
            samples.append(sample)
        await load.caught_up(0, limit=300)
        samples[-1]["delivered_after_drain"] = load.delivered
    return samples


def spread(samples: list[dict[str, Any]], key: str, every: int) -> float:
    """The largest deviation from the value at 200k, as a fraction of it."""
    later = [float(s[key]) for s in samples if s["events"] >= 200_000 - every // 2]
    if not later:
        later = [float(s[key]) for s in samples]
    base = later[0]
    return round(max(abs(value - base) for value in later) / base, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--backlog", type=int, default=5_000)
    parser.add_argument("--probe", action="store_true", help="the worker's memory report too")
    parser.add_argument("--trace", action="store_true", help="with --probe: under tracemalloc")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    if args.trace:
        os.environ["PYTHONTRACEMALLOC"] = "1"  # inherited by the service (and the receiver)
    with service_and_receiver("connector-soak-", RECEIVER_APP, SERVICE_PORT, SINK_PORT) as server:
        samples = asyncio.run(
            soak(args.events, args.every, args.backlog, server.pid, args.probe or args.trace)
        )
    web, worker = (
        spread(samples, "web_rss_mb", args.every),
        spread(samples, "worker_rss_mb", args.every),
    )
    last = samples[-1]
    print(
        f"RSS from 200k to {last['events']:,} events: web within {web:.1%}, worker within"
        f" {worker:.1%} of their value at 200k (goal <= 10 %:"
        f" {'met' if max(web, worker) <= 0.10 else 'NOT met'}); acknowledged {last['events']:,},"
        f" delivered {last.get('delivered_after_drain', last['delivered']):,},"
        f" rejected {last['failed']}, {last['seconds']} s"
    )


if __name__ == "__main__":
    main()
