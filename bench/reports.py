"""Report benchmark: the time of each report page on a store of 1,000,000 clicks.

1. **Build.** `bench/reports_data.py` makes 1,000,000 clicks (seeded: 40 campaigns, 1,000
   messages, 400 links with the shop's home page in every message, 300,000 people, 12 %
   scanner-like, 3 % anonymous, the newest 2 % not settled yet), adds them up in memory as
   the pipeline does, and writes the report tables and the scenario engine's `clicks` index
   in bulk (one transaction; the pipeline would take hours to route a million events here).
2. **Check.** A sample of 3,000 clicks also goes through the real `Tx.count_clicks` and
   `Tx.count_settlements`, 100 clicks per transaction as the processor calls them; the four
   report tables must equal the bulk-built ones for that sample, row for row.
3. **Time.** Through the store's own transaction path (what the admin API, the dashboard
   and `connector report` call), `--reps` times each, keys drawn at random (half from the
   10 biggest subjects of the kind, half from all): a page of subjects (50, after a random
   key), one subject's totals, a contacts page (50, after a random recipient), a 30-day
   timeline, and a whole report page (totals + timeline + first contacts page, one
   transaction). p50 / p99 / max in ms; the goal is p99 <= 100 ms.
4. **Counting cost.** 10,000 new clicks counted into the loaded store, 100 per transaction
   as the processor batches them: the time `count_clicks` and `count_settlements` add to
   a click's routing and settling transactions.

    .venv/bin/python bench/reports.py [--clicks 1000000] [--reps 2000] [--postgres]

`--postgres` does the same on a throw-away cluster (`scripts/postgres`, port 55439).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reports_data import (
    ORDER,
    TABLES,
    aggregate,
    click_rows,
    load_postgres,
    load_sqlite,
    pipeline_tables,
    workload,
)
from connector.storage.base import Tx
from connector.storage.report_records import CountedClick, Subject

DAY = 86400.0
SUBJECTS: tuple[Subject, ...] = ("link", "campaign", "message")


def check_sample(tmp: Path, sample_size: int) -> None:
    sample = list(workload(sample_size))
    expected = {
        t: sorted(rows, key=lambda r, t=t: r[: ORDER[t].count(",") + 1])
        for t, rows in aggregate(sample).items()
    }
    actual = pipeline_tables(tmp / "sample.db", sample)
    for table in TABLES:
        if actual[table] != expected[table]:
            raise SystemExit(f"{table}: the bulk aggregates differ from the pipeline's")
    sizes = ", ".join(f"{t} {len(expected[t])}" for t in TABLES)
    print(f"check: {sample_size} clicks through count_clicks/count_settlements = bulk ({sizes})")


def keys_by_size(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[str, float]]]:
    """Each subject kind's keys, biggest first, with their last click."""
    out: dict[str, list[tuple[int, str, float]]] = {}
    for row in tables["report_totals"]:
        out.setdefault(row[0], []).append((row[2], row[1], row[9]))
    return {s: [(k, last) for _, k, last in sorted(v, reverse=True)] for s, v in out.items()}


def recipients_of(tables: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return sorted({row[2] for row in tables["report_contacts"][:200_000]})


def time_queries(
    run: Callable[[Callable[[Tx], Any]], Any],
    keys: dict[str, list[tuple[str, float]]],
    people: list[str],
    reps: int,
) -> dict[str, list[float]]:
    rng = random.Random(7)

    def pick() -> tuple[Subject, str, float]:
        subject = rng.choice(SUBJECTS)
        ranked = keys[subject]
        key, last = rng.choice(ranked[:10] if rng.random() < 0.5 else ranked)
        return subject, key, last

    def page(tx: Tx, s: Subject, k: str, last: float) -> Any:
        return (
            tx.report_totals(s, k),
            tx.report_timeline(s, k, last - 30 * DAY, last + 1),
            tx.report_contacts(s, k, 50),
        )

    queries: dict[str, Callable[[Subject, str, float], Callable[[Tx], Any]]] = {
        "subjects page": lambda s, k, last: (
            lambda tx: tx.report_subjects(s, 50, rng.choice(keys[s])[0])
        ),
        "totals": lambda s, k, last: lambda tx: tx.report_totals(s, k),
        "contacts page": lambda s, k, last: (
            lambda tx: tx.report_contacts(s, k, 50, rng.choice(people))
        ),
        "timeline 30 d": lambda s, k, last: (
            lambda tx: tx.report_timeline(s, k, last - 30 * DAY, last + 1)
        ),
        "report page": lambda s, k, last: lambda tx: page(tx, s, k, last),
    }
    times: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(reps):
        for name, make in queries.items():
            fn = make(*pick())
            began = time.perf_counter()
            run(fn)
            times[name].append((time.perf_counter() - began) * 1000)
    return times


def report(backend: str, times: dict[str, list[float]]) -> None:
    print(f"\n{backend}: ms per query ({len(next(iter(times.values())))} each)")
    print(f"{'query':16} {'p50':>8} {'p99':>8} {'max':>8}")
    worst = 0.0
    for name, values in times.items():
        values.sort()
        p50, p99 = values[len(values) // 2], values[int(len(values) * 0.99) - 1]
        worst = max(worst, p99)
        print(f"{name:16} {p50:8.2f} {p99:8.2f} {values[-1]:8.2f}")
    verdict = "met" if worst <= 100 else "MISSED"
    print(f"{backend}: worst p99 {worst:.2f} ms -> goal p99 <= 100 ms: {verdict}")


def recorder_cost(backend: str, run: Callable[[Callable[[Tx], Any]], Any]) -> None:
    """What counting adds to routing: 10,000 new clicks, 100 per transaction as the
    processor batches them, through `count_clicks` (3 subjects each), then settled."""
    clicks = [replace(c.click, event_id=f"new_{n}") for n, c in enumerate(workload(10_000, 99))]
    spent = {"count_clicks": 0.0, "count_settlements": 0.0}

    def timed(method: str, batch: list[CountedClick]) -> Callable[[Tx], None]:
        def fn(tx: Tx) -> None:
            began = time.perf_counter()
            getattr(tx, method)(batch)
            spent[method] += time.perf_counter() - began

        return fn

    for method in spent:
        for start in range(0, len(clicks), 100):
            run(timed(method, clicks[start : start + 100]))
    costs = ", ".join(f"{m} {t / len(clicks) * 1e6:.0f} µs" for m, t in spent.items())
    print(f"{backend}: per click, inside the transaction: {costs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        tmp = Path(folder)
        check_sample(tmp, args.sample)
        began = time.perf_counter()
        tables = aggregate(workload(args.clicks))
        sizes = ", ".join(f"{t} {len(tables[t]):,}" for t in TABLES)
        print(f"aggregated {args.clicks:,} clicks in {time.perf_counter() - began:.1f} s: {sizes}")
        keys, people = keys_by_size(tables), recipients_of(tables)
        began = time.perf_counter()
        load_sqlite(tmp / "reports.db", tables, click_rows(workload(args.clicks)))
        size = (tmp / "reports.db").stat().st_size / 1e6
        print(f"sqlite: loaded in {time.perf_counter() - began:.1f} s ({size:,.0f} MB)")
        from connector.storage.sqlite import SqliteStore

        store = SqliteStore(tmp / "reports.db")
        store.open_sync()
        try:
            report("sqlite", time_queries(store.transaction_sync, keys, people, args.reps))
            recorder_cost("sqlite", store.transaction_sync)
        finally:
            store.close_sync()
        if args.postgres:
            postgres(tmp, tables, args, keys, people)


def postgres(
    tmp: Path,
    tables: dict[str, list[tuple[Any, ...]]],
    args: argparse.Namespace,
    keys: dict[str, list[tuple[str, float]]],
    people: list[str],
) -> None:
    from connector.storage.postgres import PgStore

    script = Path(__file__).resolve().parent.parent / "scripts" / "postgres"
    tmp.chmod(0o755)  # as root the server runs as `postgres`, which must reach its folder
    cluster = tmp / "pg"
    url = (
        subprocess.run(
            [str(script), "start", str(cluster), "55439"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    try:
        began = time.perf_counter()
        load_postgres(url, tables, click_rows(workload(args.clicks)))
        print(f"\npostgresql: loaded in {time.perf_counter() - began:.1f} s")
        store = PgStore(url)
        store.open_sync()
        try:
            report("postgresql", time_queries(store.transaction_sync, keys, people, args.reps))
            recorder_cost("postgresql", store.transaction_sync)
        finally:
            store.close_sync()
    finally:
        subprocess.run([str(script), "stop", str(cluster)], check=False)


if __name__ == "__main__":
    main()
