"""`connector report rebuild` on a large store: how fast it counts, and how long each of its
transactions holds the store (what an ingest may wait, at most, while it runs).

Stores `--clicks` processed `email.clicked` events (`bench/reports_data.py`'s workload:
40 campaigns, 400 links, 300,000 people, 12 % suspected, the newest 2 % unsettled; payloads
with the fields the report recorder reads) with their verdicts, then runs the rebuild with
`--batch-size` events per transaction and reports clicks per second and the batch
transactions' p50 / p99 / max. Checks that every click is counted under its campaign.

    .venv/bin/python bench/reports_rebuild.py [--clicks 200000] [--batch-size 100] [--postgres]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reports_data import Click, workload
from connector.reports.rebuild import Progress, rebuild
from connector.storage.base import EventRecord, IngestBatch, Routed, Store

CHUNK = 2000


def record(c: Click) -> tuple[EventRecord, Routed]:
    """One processed click as stored: payload, immediate or settled verdict, decision."""
    k = c.click
    at = datetime.fromtimestamp(k.at, UTC).isoformat().replace("+00:00", "Z")
    payload = orjson.dumps(
        {
            "id": k.event_id,
            "type": "email.clicked",
            "occurred_at": at,
            "recipient": {"email": k.recipient, "id": None},
            "message": {"id": c.message_id, "campaign_id": c.campaign_id},
            "link": {"url": c.canonical, "canonical": c.canonical},
        }
    )
    event = EventRecord(k.event_id, "email.clicked", "esp", "bench", k.at, k.at, payload, b"{}")
    suspected = c.settled_suspected if c.settled else k.suspected
    bot = orjson.dumps({"suspected": suspected, "phase": "settled" if c.settled else "immediate"})
    return event, Routed(k.event_id, bot, {"matched": []}, k.at + 600)


def fill(store: Store, clicks: int) -> None:
    """Store and mark processed (settled for the settled ones), CHUNK per transaction."""
    chunk: list[tuple[EventRecord, Routed, bool]] = []

    def flush(tx: Any) -> None:
        tx.ingest(IngestBatch("esp", 0.0, [event for event, _, _ in chunk]))
        tx.complete_events([routed for _, routed, _ in chunk])
        settled = [Routed(r.event_id, r.bot, {}) for _, r, done in chunk if done]
        if settled:
            tx.complete_settlements(settled)

    for click in workload(clicks):
        chunk.append((*record(click), click.settled))
        if len(chunk) == CHUNK:
            store.transaction_sync(flush)
            chunk = []
    if chunk:
        store.transaction_sync(flush)


def measure(name: str, store: Store, clicks: int, batch_size: int) -> None:
    began = time.perf_counter()
    fill(store, clicks)
    print(f"{name}: stored {clicks:,} processed clicks in {time.perf_counter() - began:.1f} s")
    batches: list[float] = []
    last = [time.perf_counter()]

    def timed(progress: Progress) -> None:
        now = time.perf_counter()
        batches.append((now - last[0]) * 1000)
        last[0] = now

    began = last[0] = time.perf_counter()
    done = rebuild(store, batch_size=batch_size, report=timed)
    took = time.perf_counter() - began
    totals = store.transaction_sync(lambda tx: tx.report_subjects("campaign", 1000))
    assert sum(t.clicks for t in totals) == clicks == done.clicks, (done, len(totals))
    batches.sort()
    p99 = batches[min(len(batches) - 1, int(len(batches) * 0.99))]
    print(
        f"{name}: rebuilt {done.clicks:,} clicks in {took:.1f} s ({done.clicks / took:,.0f}/s);"
        f" {len(batches)} transactions of {batch_size} events: p50"
        f" {statistics.median(batches):.1f} ms, p99 {p99:.1f} ms, max {batches[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    from connector.storage.sqlite import SqliteStore

    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as folder:
        tmp = Path(folder)
        sqlite = SqliteStore(tmp / "rebuild.db")
        sqlite.open_sync()
        try:
            measure("sqlite", sqlite, args.clicks, args.batch_size)
        finally:
            sqlite.close_sync()
        if args.postgres:
            postgres(tmp, args)


def postgres(tmp: Path, args: argparse.Namespace) -> None:
    from connector.storage.postgres import PgStore

    script = Path(__file__).resolve().parent.parent / "scripts" / "postgres"
    tmp.chmod(0o755)  # as root the server runs as `postgres`, which must reach its folder
    cluster = tmp / "pg"
    started = subprocess.run(
        [str(script), "start", str(cluster), "55441"], check=True, capture_output=True, text=True
    )
    try:
        store = PgStore(started.stdout.strip().splitlines()[-1])
        store.open_sync()
        try:
            measure("postgresql", store, args.clicks, args.batch_size)
        finally:
            store.close_sync()
    finally:
        subprocess.run([str(script), "stop", str(cluster)], check=False)


if __name__ == "__main__":
    main()
