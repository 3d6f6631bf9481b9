"""Click-to-action latency: webhook sent -> event received downstream, at a paced rate.

`connector serve` in its default layout (the web process and its worker process, bot
detector on) pinned to CPU 0, with a Customer.io source, one rule sending every click to an
http action, and a receiver on CPU 1 that records each arrival's time. This process (CPU 1)
posts signed click webhooks at a steady rate (default 200/s) for `--seconds`, after 2 s of
warm-up that is not counted (and is delivered before the measured load starts). For each
click: the acknowledgement latency (send -> 2xx, the same-run reference: what the ESP
waits for) and the end-to-end latency (send -> arrival at the receiver). Every
acknowledged click must arrive exactly once.

    .venv/bin/python bench/latency.py [--rate 200] [--seconds 20] [--rounds 3]

Goal (issue 14): end-to-end p50 <= 10 ms and p99 <= 50 ms at 200 req/s. Needs `taskset`
and 2 cores; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from ingest import stop, wait_for_worker  # bench/ingest.py
from scenarios import (  # bench/scenarios.py
    KEY,
    RECEIVER_APP,
    SERVICE_PORT,
    SINK_PORT,
    UVICORN_FLAGS,
    cio_request,
    launch,
    percentile,
    received,
)

SERVICE_CONFIG = """
[storage]
url = "sqlite:///{db}"

[bots]
enabled = true

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["{key}"]

[[rules]]
id = "every-click"
actions = ["sink"]

[[actions]]
id = "sink"
type = "http"
url = "http://127.0.0.1:{sink_port}/sink"
allow_networks = ["127.0.0.0/8"]
"""


async def post_click(client: httpx.AsyncClient, ident: str) -> tuple[str, float, float, int]:
    """(event id, send time, acknowledgement seconds, status) of one signed click."""
    body, headers = cio_request("click", ident, f"{ident}@example.org", f"dlv-{ident}")
    sent = time.time()
    try:
        response = await client.post(
            f"http://127.0.0.1:{SERVICE_PORT}/webhooks/cio", content=body, headers=headers
        )
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return ident, sent, time.time() - sent, status


async def drive(rate: float, seconds: float, prefix: str) -> tuple[list[Any], float]:
    """`rate` x `seconds` clicks on a fixed schedule; the results and the schedule's worst
    lateness (s), which says whether the offered rate was held."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        loop = asyncio.get_running_loop()
        start, late, tasks = loop.time(), 0.0, []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, -delay)
            tasks.append(asyncio.create_task(post_click(client, f"{prefix}-{i:08d}")))
        return list(await asyncio.gather(*tasks)), late


def await_clicks(expected: set[str], limit: float) -> list[dict[str, Any]]:
    """Poll the receiver until every expected click arrived or `limit` s pass; then once
    more a second later, so a doubled delivery has time to show."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if expected <= {a["provider_event_id"] for a in received()}:
            break
        time.sleep(0.5)
    time.sleep(1.0)
    return [a for a in received() if a["provider_event_id"] in expected]


@contextlib.contextmanager
def service_and_receiver(
    prefix: str, receiver_app: str, service_port: int, sink_port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """`connector serve` (one rule, every click to the receiver) on CPU 0 with its worker up,
    and the receiver app on CPU 1, in a fresh folder removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    (work / "receiver.py").write_text(receiver_app)
    config = work / "service.toml"
    config.write_text(SERVICE_CONFIG.format(db=work / "service.db", key=KEY, sink_port=sink_port))
    log, python = work / "servers.log", sys.executable
    receiver = f"-m uvicorn receiver:app --app-dir {work} --port {sink_port} --log-level warning"
    service = f"{python} -m connector serve --config {config} --port {service_port}"
    sink = launch([python, *receiver.split(), *UVICORN_FLAGS], sink_port, 1, log)
    try:
        server = launch(service.split(), service_port, 0, log)
        try:
            wait_for_worker(service_port)
            yield server
        finally:
            stop(server)
    finally:
        stop(sink)
        shutil.rmtree(work, ignore_errors=True)


# Per click, from the service's database: when the web process received it, when the
# routing pass that queued its delivery began, when its first attempt began.
STAGE_QUERY = """
SELECT json_extract(CAST(e.payload AS TEXT), '$.provider_event_id'), e.received_at,
       d.created_at, d.first_attempt_at
FROM events e JOIN deliveries d ON d.event_id = e.id WHERE d.first_attempt_at IS NOT NULL
"""


def database_of(server: subprocess.Popen[bytes]) -> Path:
    """The service's SQLite file: beside the config `service_and_receiver` wrote."""
    args = [str(arg) for arg in server.args]  # type: ignore[union-attr]
    return Path(args[args.index("--config") + 1]).parent / "service.db"


def stages(db: Path, sent: dict[str, float], arrivals: dict[str, float]) -> dict[str, list[float]]:
    """p50/p99 (ms) of each stage of a click's way: request in (send -> received by the web
    process), to routing (-> the routing pass began: ingest commit, 2xx, wake-up), routing
    to send (-> the attempt began: routing and claim transactions), send (-> arrival)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = [r for r in conn.execute(STAGE_QUERY) if r[0] in sent and r[0] in arrivals]
    marks = [(sent[r[0]], r[1], r[2], r[3], arrivals[r[0]]) for r in rows]
    names = ["request_in", "to_routing", "routing_to_send", "send_to_arrival"]
    return {
        name: [percentile([(m[i + 1] - m[i]) * 1000 for m in marks], q) for q in (0.5, 0.99)]
        for i, name in enumerate(names)
    }


def one_round(rate: float, seconds: float, label: str, series: Path | None) -> dict[str, Any]:
    """A fresh service and receiver; warm-up, the measured load, then every arrival."""
    prefix = "connector-latency-"
    with service_and_receiver(prefix, RECEIVER_APP, SERVICE_PORT, SINK_PORT) as server:
        warm, _ = asyncio.run(drive(rate, 2, f"{label}-warm"))
        await_clicks({ident for ident, *_ in warm}, 30)  # start from an empty queue
        results, late = asyncio.run(drive(rate, seconds, f"{label}-run"))
        ok = {ident: (sent, ack) for ident, sent, ack, status in results if status == 200}
        got = await_clicks(set(ok), 30)
        arrivals: dict[str, float] = {}
        for arrival in got:
            arrivals.setdefault(arrival["provider_event_id"], arrival["at"])
        breakdown = stages(database_of(server), {i: s for i, (s, _) in ok.items()}, arrivals)
    end_to_end = [(arrivals[i] - ok[i][0]) * 1000 for i in ok if i in arrivals]
    acks = [ack * 1000 for _, ack in ok.values()]
    if series is not None:  # (send time, end-to-end ms) per click, to see when spikes happen
        points = sorted((ok[i][0], (arrivals[i] - ok[i][0]) * 1000) for i in ok if i in arrivals)
        series.write_text(json.dumps(points))
    return {
        "posted": len(results),
        "acknowledged": len(ok),
        "arrived": len(arrivals),
        "doubled": len(got) - len(arrivals),
        "schedule_late_ms_max": round(late * 1000, 1),
        "ack_ms_p50_p99": [percentile(acks, 0.5), percentile(acks, 0.99)],
        "end_to_end_ms_p50_p99_max": [
            percentile(end_to_end, 0.5),
            percentile(end_to_end, 0.99),
            percentile(end_to_end, 1),
        ],
        "stages_ms_p50_p99": breakdown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--series", type=Path, help="write the last round's latencies here")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    rounds = [one_round(args.rate, args.seconds, f"r{n}", args.series) for n in range(args.rounds)]
    for figures in rounds:
        print(json.dumps(figures))
    p50 = statistics.median(r["end_to_end_ms_p50_p99_max"][0] for r in rounds)
    p99 = statistics.median(r["end_to_end_ms_p50_p99_max"][1] for r in rounds)
    exact = all(r["arrived"] == r["acknowledged"] and r["doubled"] == 0 for r in rounds)
    print(
        f"median of {args.rounds} rounds at {args.rate:g}/s: webhook -> downstream p50 {p50} ms"
        f" (goal <= 10: {'met' if p50 <= 10 else 'NOT met'}), p99 {p99} ms"
        f" (goal <= 50: {'met' if p99 <= 50 else 'NOT met'}); every acknowledged click"
        f" arrived exactly once: {exact}"
    )


if __name__ == "__main__":
    main()
