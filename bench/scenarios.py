"""Scenario benchmark: a did-not-click check over a big send, and timer lag under load.

1. **Did-not-click check.** A real SQLite store (a file in a temp dir) gets N delivered
   recipients of one campaign through the storage API (`record_recipients`, each `data` the
   envelope of a realistic Customer.io delivered event) and clicks for 20 % of them (half
   human on the selected link, a quarter on another link, a quarter suspected), in
   transactions of 5,000. One `not_clicked` rule's config check is scheduled and fired with
   `engine.fire` in transactions until one fires nothing (each handles a page budget). The
   rate (recipients evaluated per second) is divided by a same-process baseline: one
   streamed `SELECT` of the same N `data` blobs with `orjson.loads` on each, the least any
   check must do (read before and after the check; the mean is used). The number of
   `email.not_clicked` events stored must equal N minus the human clickers of the selected
   link. The process RSS (`/proc/self/statm`) is sampled after every firing transaction;
   the check runs at N and N/10, each in a fresh process pinned to CPU 0, and flat memory
   means about the same growth (peak - RSS after the first transaction) at both sizes.
2. **Timer lag under load.** `connector serve` (default worker process, bots on, settling
   2 s) pinned to CPU 0, with a Customer.io source, a `wait` rule (timeout 3 s, on timeout
   to an http action) and a catch-all click rule to the same action. A receiver on CPU 1
   records each arrival. The load generator (this process, CPU 1) posts signed webhooks at
   a steady rate: half `email delivered` (each starts a wait for its own recipient), half
   clicks by other recipients. Their `timestamp` is in whole seconds, as Customer.io sends
   it, so the waits started within one second come due at the same instant. Lag = arrival -
   `scenario.due_at` of each `email.click_timeout`; the same-run baseline is the
   webhook-to-receiver latency of the real-time clicks. After 2 s of warm-up load (not
   counted) every wait of the measured load must end in exactly one timeout.

    .venv/bin/python bench/scenarios.py [--recipients 100000] [--lag-seconds 20]
                                        [--rate 200] [--skip-lag]

Needs `taskset` (util-linux) and 2 cores; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import orjson
from ingest import stop, wait_for_worker  # bench/ingest.py

from connector.delivery.settings import DeliverySettings
from connector.rules.model import RuleSettings
from connector.scenarios.emit import envelope
from connector.scenarios.engine import ScenarioEngine
from connector.storage.scenario_records import ClickRecord, RecipientRecord
from connector.storage.sqlite import SqliteStore
from providers.canonical import canonical_url
from schemas.compiled import build_event, encode

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-signing-key"
CAMPAIGN = "42"
SELECTED = "https://shop.example.org/pricing"
OTHER = "https://shop.example.org/spring"
CHECK_AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC).timestamp()
DELIVERED_AT = CHECK_AT - 86400
BATCH = 5000
# What each kind of clicker clicked, in order (kind 3 is the suspected one).
CLICKED_LINKS = ([SELECTED + "?utm_source=cio"], [OTHER, SELECTED], [OTHER], [SELECTED])
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


# 1. did-not-click check -------------------------------------------------------------------
def rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE_BYTES / 2**20


def delivered_template() -> dict[str, Any]:
    """A delivered event as the processor reads it (the stored payload of a Customer.io one)."""
    fields = {
        "id": "evt_template",
        "occurred_at": datetime.fromtimestamp(DELIVERED_AT, UTC),
        "received_at": datetime.fromtimestamp(DELIVERED_AT + 1, UTC),
        "provider": "customerio",
        "source": "cio",
        "provider_event_id": "01HZX3K2AB3C4D5E6F7G8H9J0K",
        "recipient": {"email": "dana@example.org", "id": "u_4821"},
        "message": {"id": "x", "campaign_id": CAMPAIGN, "subject": "Your spring picks"},
        "metadata": {
            "campaign_id": 42,
            "action_id": 97,
            "identifiers": {"id": "u_4821", "email": "dana@example.org", "cio_id": "a1b2c3"},
        },
        "test": False,
    }
    return dict(orjson.loads(encode(build_event("email.delivered", fields))))


def recipient_rows(first: int, count: int, template: dict[str, Any]) -> list[RecipientRecord]:
    rows = []
    for i in range(first, first + count):
        email, message_id = f"user{i:07d}@example.org", f"dlv-{i:07d}"
        data = {
            **template,
            "recipient": {"email": email, "id": f"u_{i}"},
            "message": {**template["message"], "id": message_id},
        }
        rows.append(
            RecipientRecord(
                email, message_id, CAMPAIGN, "delivered", DELIVERED_AT, False, envelope(data)
            )
        )
    return rows


def click_rows(first: int, count: int) -> tuple[list[ClickRecord], int]:
    """Clicks by every 5th recipient (cycling: human on the selected link with tracking, human
    on it after another page, human on another page only, suspected on the selected link);
    also how many of them count."""
    rows, counting = [], 0
    for i in range(first, first + count):
        if i % 5:
            continue
        kind = (i // 5) % 4
        for n, url in enumerate(CLICKED_LINKS[kind]):
            rows.append(_click(i, n, url, suspected=kind == 3))
        counting += kind in (0, 1)
    return rows, counting


def _click(i: int, n: int, url: str, *, suspected: bool) -> ClickRecord:
    return ClickRecord(
        event_id=f"evt_click_{i:07d}_{n}",
        recipient=f"user{i:07d}@example.org",
        message_id=f"dlv-{i:07d}",
        campaign_id=CAMPAIGN,
        canonical=canonical_url(url) or "",
        system=False,
        test=False,
        occurred_at=DELIVERED_AT + 600 + n * 60,
        suspected=suspected,
        settled=True,
        settle_at=None,
    )


def populate(store: SqliteStore, n: int) -> int:
    """N recipients and their clicks, BATCH per transaction; the count of counting clickers."""
    template, counting = delivered_template(), 0
    for first in range(0, n, BATCH):
        people = recipient_rows(first, min(BATCH, n - first), template)
        clicks, counted = click_rows(first, len(people))
        store.transaction_sync(
            lambda tx, p=people, c=clicks: (tx.record_recipients(p), tx.record_clicks(c))
        )
        counting += counted
    return counting


def baseline_read(db: Path) -> tuple[int, float]:
    """(rows, seconds) to stream the campaign's recipient blobs and parse each."""
    conn = sqlite3.connect(db)
    started, rows = time.perf_counter(), 0
    for (data,) in conn.execute("SELECT data FROM recipients WHERE campaign_id = ?", (CAMPAIGN,)):
        orjson.loads(data)
        rows += 1
    seconds = time.perf_counter() - started
    conn.close()
    return rows, seconds


def nudge_rule() -> RuleSettings:
    return RuleSettings.model_validate(
        {
            "id": "nudge",
            "trigger": "not_clicked",
            "links": [SELECTED],
            "at": datetime.fromtimestamp(CHECK_AT, UTC).isoformat(),
            "send": {"campaign_id": CAMPAIGN},
            "actions": ["crm"],
        }
    )


def fire_all(store: SqliteStore, engine: ScenarioEngine, n: int) -> dict[str, Any]:
    """Fire until a transaction fires no timer (bounded); timings and RSS after each one."""
    rss, millis, evaluated = [rss_mb()], [], 0
    started = time.perf_counter()
    for _ in range(n // engine.firing.budget + 20):
        tick = time.perf_counter()
        fired = store.transaction_sync(lambda tx: engine.fire(tx, CHECK_AT + 1))
        millis.append((time.perf_counter() - tick) * 1000)
        rss.append(rss_mb())
        evaluated += fired.evaluated
        if fired.timers == 0 or time.perf_counter() - started > 900:
            break
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "evaluated": evaluated, "tx_ms": millis, "rss": rss}


def stored_not_clicked(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        query = "SELECT COUNT(*) FROM events WHERE type = 'email.not_clicked'"
        return int(conn.execute(query).fetchone()[0])


def run_check(n: int) -> dict[str, Any]:
    """One check at size n, in its own process (fresh heap), pinned to CPU 0."""
    os.sched_setaffinity(0, {0})
    with tempfile.TemporaryDirectory(prefix="connector-scenarios-") as tmp:
        db = Path(tmp) / "check.db"
        store = SqliteStore(db, synchronous="NORMAL")  # what the worker's firing commits at
        store.open_sync()
        counting = populate(store, n)
        engine = ScenarioEngine([nudge_rule()])
        store.transaction_sync(lambda tx: engine.schedule_config_checks(tx, CHECK_AT - 3600))
        before = baseline_read(db)
        fired = fire_all(store, engine, n)
        after = baseline_read(db)
        stored = stored_not_clicked(db)
        store.close_sync()
    assert before[0] == after[0] == n, (before, after, n)
    return summarise_check(n, counting, stored, fired, (before[1] + after[1]) / 2)


def summarise_check(
    n: int, counting: int, stored: int, fired: dict[str, Any], baseline_s: float
) -> dict[str, Any]:
    rss, millis = fired["rss"], fired["tx_ms"]
    rate = fired["evaluated"] / fired["seconds"]
    return {
        "recipients": n,
        "recipients_per_s": round(rate),
        "baseline_rows_per_s": round(n / baseline_s),
        "ratio_to_baseline": round(rate / (n / baseline_s), 3),
        "transactions": len(millis),
        "tx_ms_first_median_max": [
            round(millis[0]),
            round(sorted(millis)[len(millis) // 2]),
            round(max(millis)),
        ],
        "not_clicked_stored": stored,
        "not_clicked_expected": n - counting,
        "rss_mb_start_peak_end": [round(rss[0], 1), round(max(rss), 1), round(rss[-1], 1)],
        "rss_growth_mb": round(max(rss) - rss[1], 1),
        "rss_growth_of_start": round((max(rss) - rss[1]) / rss[0], 3),
    }


def check_part(n: int) -> dict[str, Any]:
    """The check at n and n/10, each in a fresh process; fails loudly on a wrong count."""
    results = {}
    for size in (n // 10, n):
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            results[size] = pool.submit(run_check, size).result(timeout=1800)
        print(f"check at {size}: " + json.dumps(results[size]), flush=True)
        if results[size]["not_clicked_stored"] != results[size]["not_clicked_expected"]:
            sys.exit(f"WRONG: not_clicked events at N={size}: {results[size]}")
    big, small = results[n], results[n // 10]
    return {
        **big,
        "small": small,
        "growth_mb_n_vs_n10": [big["rss_growth_mb"], small["rss_growth_mb"]],
    }


# 2. timer lag under load ------------------------------------------------------------------
SERVICE_CONFIG = """
[storage]
url = "sqlite:///{db}"

[bots]
enabled = true
settle_seconds = {settle}
{delivery}
[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["{key}"]

[[rules]]
id = "no-click-in-time"
trigger = "wait"
timeout = "{timeout}s"
on_timeout = ["sink"]

[[rules]]
id = "realtime"
actions = ["sink"]

[[actions]]
id = "sink"
type = "http"
url = "http://127.0.0.1:{sink_port}/sink"
allow_networks = ["127.0.0.0/8"]
"""
RECEIVER_APP = """
import time

import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

arrivals = []


async def sink(request):
    body = await request.body()
    arrivals.append((time.time(), request.headers.get("idempotency-key"), body))
    return Response(status_code=200)


async def dump(request):
    out = []
    for at, delivery_id, body in arrivals:
        event = orjson.loads(body)
        out.append({"at": at, "delivery_id": delivery_id, "type": event.get("type"),
                    "provider_event_id": event.get("provider_event_id"),
                    "email": (event.get("recipient") or {}).get("email"),
                    "due_at": (event.get("scenario") or {}).get("due_at")})
    return Response(orjson.dumps(out), media_type="application/json")


app = Starlette(routes=[Route("/sink", sink, methods=["POST"]), Route("/arrivals", dump),
                        Route("/healthz", lambda request: Response("ok"))])
"""
TIMEOUT_S = 3
SETTLE_S = 2
SERVICE_PORT, SINK_PORT = 18300, 18301
UVICORN_FLAGS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
FIXTURES = {
    kind: json.loads((ROOT / f"fixtures/customerio/{kind}.raw").read_bytes())
    for kind in ("delivered", "click")
}


def write_config(work: Path) -> Path:
    """The service's config; `[delivery] allow_networks` only where that setting exists."""
    allow = "allow_networks" in DeliverySettings.model_fields
    delivery = '[delivery]\nallow_networks = ["127.0.0.0/8"]\n' if allow else ""
    path = work / "service.toml"
    path.write_text(
        SERVICE_CONFIG.format(
            db=work / "service.db",
            settle=SETTLE_S,
            delivery=delivery,
            key=KEY,
            timeout=TIMEOUT_S,
            sink_port=SINK_PORT,
        )
    )
    return path


def launch(command: list[str], port: int, cpu: int, log: Path) -> subprocess.Popen[bytes]:
    """A server pinned to `cpu`, once its /healthz answers (bounded wait)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            ["taskset", "-c", str(cpu), *command], stdout=out, stderr=out, cwd=ROOT
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    sys.exit(f"server on {port} did not start; see {log}")


def cio_request(
    kind: str, ident: str, email: str, delivery_id: str
) -> tuple[bytes, dict[str, str]]:
    """A signed Customer.io webhook (fixture shape, this recipient, stamped now)."""
    template = FIXTURES[kind]
    data = {**template["data"], "recipient": email, "delivery_id": delivery_id}
    data["identifiers"] = {**template["data"]["identifiers"], "email": email}
    stamp = int(time.time())
    body = orjson.dumps({**template, "event_id": ident, "timestamp": stamp, "data": data})
    signature = hmac.new(KEY.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-cio-timestamp": str(stamp),
        "x-cio-signature": signature.hexdigest(),
    }
    return body, headers


async def post_one(client: httpx.AsyncClient, prefix: str, i: int) -> tuple[str, str, float, int]:
    """Even i: a delivery that starts a wait; odd i: a click by someone without one.
    (kind, key, send time, status): key is the waiting email or the click's event id."""
    kind = "delivered" if i % 2 == 0 else "click"
    ident = f"{prefix}-{kind}-{i:08d}"
    email = f"{ident}@example.org"
    body, headers = cio_request(kind, ident, email, f"dlv-{ident}")
    sent = time.time()
    try:
        response = await client.post(
            f"http://127.0.0.1:{SERVICE_PORT}/webhooks/cio", content=body, headers=headers
        )
        status = response.status_code
    except httpx.HTTPError:
        status = 0
    return kind, email if kind == "delivered" else ident, sent, status


async def drive(rate: float, seconds: float, prefix: str) -> tuple[list[Any], float]:
    """Post rate x seconds webhooks on a fixed schedule; the results and the worst lateness
    of the schedule (s), which says whether the offered rate was held."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        loop = asyncio.get_running_loop()
        start, late, tasks = loop.time(), 0.0, []
        for i in range(int(rate * seconds)):
            delay = start + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, -delay)
            tasks.append(asyncio.create_task(post_one(client, prefix, i)))
        return list(await asyncio.gather(*tasks)), late


def received() -> list[dict[str, Any]]:
    response = httpx.get(f"http://127.0.0.1:{SINK_PORT}/arrivals", timeout=30)
    return list(response.json())


def await_arrivals(waits: set[str], clicks: set[str], limit: float) -> list[dict[str, Any]]:
    """Poll the receiver until every wait's timeout and every click is in, or `limit` s pass;
    then once more a second later, so a doubled timeout has time to show."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = received()
        timeouts = {a["email"] for a in got if a["type"] == "email.click_timeout"}
        clicked = {a["provider_event_id"] for a in got if a["type"] == "email.clicked"}
        if waits <= timeouts and clicks <= clicked:
            break
        time.sleep(0.5)
    time.sleep(1.0)
    return received()


def percentile(values: list[float], q: float) -> float:
    """Nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))], 1)


def lag_figures(
    got: list[dict[str, Any]], waits: dict[str, float], clicks: dict[str, float]
) -> dict[str, Any]:
    """Timeout lag (arrival - due_at) and click latency (arrival - send), ms; exactly-once."""
    timeouts = sorted(
        (a for a in got if a["type"] == "email.click_timeout" and a["email"] in waits),
        key=lambda a: a["at"],
    )
    first: dict[str, dict[str, Any]] = {}
    for arrival in timeouts:
        first.setdefault(arrival["email"], arrival)
    lags = [
        (a["at"] - datetime.fromisoformat(a["due_at"]).timestamp()) * 1000 for a in first.values()
    ]
    latencies = [
        (a["at"] - clicks[a["provider_event_id"]]) * 1000
        for a in got
        if a["type"] == "email.clicked" and a["provider_event_id"] in clicks
    ]
    return {
        "waits_started": len(waits),
        "timeouts_received": len(timeouts),
        "missing": len(waits) - len(first),
        "doubled": len(timeouts) - len(first),
        "doubled_same_delivery_id": len(timeouts) - len({a["delivery_id"] for a in timeouts}),
        "lag_ms_p50_p99_max": [percentile(lags, 0.5), percentile(lags, 0.99), percentile(lags, 1)],
        "clicks_sent": len(clicks),
        "clicks_received": len(latencies),
        "click_ms_p50_p99_max": [
            percentile(latencies, 0.5),
            percentile(latencies, 0.99),
            percentile(latencies, 1),
        ],
    }


def timer_statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, COUNT(*) FROM timers WHERE kind = 'wait' GROUP BY 1")
        return {status: int(count) for status, count in rows}


def run_load(rate: float, seconds: float, db: Path) -> dict[str, Any]:
    """Warm up for 2 s, then the measured load; then wait for its timeouts and clicks."""
    wait_for_worker(SERVICE_PORT)
    asyncio.run(drive(rate, 2, "warm"))
    results, late = asyncio.run(drive(rate, seconds, "run"))
    ok = [r for r in results if 200 <= r[3] < 300]
    waits = {key: sent for kind, key, sent, _ in ok if kind == "delivered"}
    clicks = {key: sent for kind, key, sent, _ in ok if kind == "click"}
    got = await_arrivals(set(waits), set(clicks), TIMEOUT_S + SETTLE_S + 30)
    figures = lag_figures(got, waits, clicks)
    figures["posted_not_2xx"] = len(results) - len(ok)
    figures["schedule_late_ms_max"] = round(late * 1000, 1)
    return figures


def lag_part(seconds: float, rate: float) -> dict[str, Any]:
    """The service on CPU 0; the receiver and this load generator on CPU 1."""
    os.sched_setaffinity(0, {1})
    work = Path(tempfile.mkdtemp(prefix="connector-scenarios-lag-"))
    (work / "receiver.py").write_text(RECEIVER_APP)
    config, log, python = write_config(work), work / "servers.log", sys.executable
    receiver = f"-m uvicorn receiver:app --app-dir {work} --port {SINK_PORT} --log-level warning"
    service = f"{python} -m connector serve --config {config} --port {SERVICE_PORT}"
    sink = launch([python, *receiver.split(), *UVICORN_FLAGS], SINK_PORT, 1, log)
    try:
        server = launch(service.split(), SERVICE_PORT, 0, log)
        try:
            figures = run_load(rate, seconds, work / "service.db")
        finally:
            stop(server)
    finally:
        stop(sink)
    figures["wait_timers_by_status"] = timer_statuses(work / "service.db")
    lag, click = figures["lag_ms_p50_p99_max"], figures["click_ms_p50_p99_max"]
    figures["lag_to_click_latency_p50_p99"] = [
        round(lag[0] / click[0], 2),
        round(lag[1] / click[1], 2),
    ]
    shutil.rmtree(work, ignore_errors=True)
    return {"rate": rate, "seconds": seconds, **figures}


# summary ----------------------------------------------------------------------------------
def verdicts(check: dict[str, Any], lag: dict[str, Any] | None) -> str:
    def said(ok: bool) -> str:
        return "met" if ok else "NOT met"

    rate = check["recipients_per_s"]
    big, small = check["growth_mb_n_vs_n10"]
    allowance = 0.10 * check["rss_mb_start_peak_end"][0]
    lines = [
        f"did-not-click check: {rate:,} recipients/s, {check['ratio_to_baseline']} x reading"
        f" its input (goal >= 20,000/s: {said(rate >= 20_000)})",
        f"memory flat: RSS growth {big} MB at N, {small} MB at N/10 (goal: growth at N within"
        f" that at N/10 + 10 % of start RSS = {allowance:.1f} MB:"
        f" {said(big <= small + allowance)})",
    ]
    if lag is not None:
        p99, exact = lag["lag_ms_p50_p99_max"][1], lag["missing"] == lag["doubled"] == 0
        lines += [
            f"timer lag under {lag['rate']:g} req/s: p99 {p99} ms,"
            f" {lag['lag_to_click_latency_p50_p99']} x a real-time click's latency (p50, p99)"
            f" (goal p99 < 1,000 ms: {said(p99 < 1000)})",
            f"every wait ends in exactly one timeout: missing {lag['missing']}, doubled"
            f" {lag['doubled']} (goal 0 and 0: {said(exact)})",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks/s, half deliveries")
    parser.add_argument("--skip-lag", action="store_true")
    args = parser.parse_args()
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        sys.exit("needs taskset (util-linux) and 2 cores")
    check = check_part(args.recipients)
    lag = None if args.skip_lag else lag_part(args.lag_seconds, args.rate)
    print(json.dumps({"check": check, "lag": lag}, indent=2))
    print(verdicts(check, lag))


if __name__ == "__main__":
    main()
