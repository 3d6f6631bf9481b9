"""The report benchmark's store: a million clicks' aggregates and click-index rows.

`workload` makes the clicks (seeded, so every run builds the same store); `aggregate` adds
them up the way the pipeline's recorder and `count_clicks` / `count_settlements` do, in
memory; `load_sqlite` / `load_postgres` write the tables in bulk. `pipeline_tables` runs
a sample through the real `Tx` methods so `bench/reports.py` can check the bulk tables are
what the pipeline would have made.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connector.storage.report_records import CountedClick, Subject
from connector.storage.sqlite import SqliteStore

HOUR = 3600
START = 1_780_000_000.0  # the first send; sends spread over 60 days after it
TABLES = ("report_totals", "report_contacts", "report_hours", "report_unsettled")
ORDER = {
    "report_totals": "subject, key",
    "report_contacts": "subject, key, recipient",
    "report_hours": "subject, key, start",
    "report_unsettled": "event_id",
}


@dataclass(frozen=True, slots=True)
class Click:
    click: CountedClick  # with the immediate verdict
    message_id: str
    campaign_id: str
    canonical: str
    settled: bool
    settled_suspected: bool


def workload(total: int, seed: int = 12) -> Iterator[Click]:
    """`total` clicks: 40 campaigns of 25 messages, each message with 5 of 400 links (the
    shop's home page in every one), 300,000 people; a person clicks a message about 3
    times; 12 % of clicks look like scanners; 3 % anonymous; the last 2 % unsettled."""
    rng = random.Random(seed)
    messages = [(f"msg-{m:04d}", f"camp-{m // 25:02d}") for m in range(1000)]
    sent_at = [START + rng.random() * 60 * 86400 for _ in messages]
    links = [[0, *rng.sample(range(1, 400), 4)] for _ in messages]
    made = 0
    while made < total:
        m = rng.randrange(len(messages))
        person = rng.randrange(300_000)
        for _ in range(min(1 + int(rng.expovariate(1 / 2.3)), total - made)):
            made += 1
            link = rng.choice(links[m])
            at = sent_at[m] + rng.expovariate(1 / (6 * HOUR))
            suspected = rng.random() < 0.12
            anonymous = rng.random() < 0.03
            subjects: tuple[tuple[Subject, str], ...] = (
                ("link", f"https://shop.example/p/{link}"),
                ("campaign", messages[m][1]),
                ("message", messages[m][0]),
            )
            click = CountedClick(
                f"evt_{made:08d}",
                subjects,
                None if anonymous else f"p{person:06d}@example.org",
                at,
                suspected,
            )
            flips = rng.random() < 0.03
            yield Click(
                click, *messages[m], subjects[0][1], made <= total * 0.98, suspected != flips
            )


def aggregate(clicks: Iterable[Click]) -> dict[str, list[tuple[Any, ...]]]:
    """The four tables' rows after every click was counted and the settled ones settled."""
    totals: dict[tuple[str, str], list[Any]] = {}
    contacts: dict[tuple[str, str, str], list[Any]] = {}
    hours: dict[tuple[str, str, int], list[int]] = {}
    unsettled: list[tuple[Any, ...]] = []
    for c in clicks:
        k = c.click
        human = 0 if k.suspected else 1
        latest = (0 if c.settled_suspected else 1) if c.settled else human
        hour = int(k.at // HOUR * HOUR)
        for subject, key in k.subjects:
            t = totals.setdefault((subject, key), [0, 0, 0, 0, 0, 0, k.at, k.at])
            t[0] += 1
            t[2 if human else 4] += 1
            if c.settled:
                t[3 if latest else 5] += 1
            t[6], t[7] = min(t[6], k.at), max(t[7], k.at)
            if k.recipient is not None:
                row = contacts.get((subject, key, k.recipient))
                if row is None:
                    contacts[(subject, key, k.recipient)] = [1, latest, k.at, k.at]
                    t[1] += 1
                else:
                    row[0] += 1
                    row[1] += latest
                    row[2], row[3] = min(row[2], k.at), max(row[3], k.at)
            b = hours.setdefault((subject, key, hour), [0, 0])
            b[0] += 1
            b[1] += latest
        if not c.settled:
            unsettled.append((k.event_id, 1 - human, k.at))
    return {
        "report_totals": [(*key, *v) for key, v in totals.items()],
        "report_contacts": [(*key, *v) for key, v in contacts.items()],
        "report_hours": [(*key, *v) for key, v in hours.items()],
        "report_unsettled": unsettled,
    }


def click_rows(clicks: Iterable[Click]) -> Iterator[tuple[Any, ...]]:
    """The scenario engine's `clicks` index rows (anonymous clicks are not indexed)."""
    for c in clicks:
        k = c.click
        if k.recipient is not None:
            suspected = c.settled_suspected if c.settled else k.suspected
            settle_at = k.at + 60
            yield (
                k.event_id,
                k.recipient,
                c.message_id,
                c.campaign_id,
                c.canonical,
                0,
                0,
                k.at,
                int(suspected),
                int(c.settled),
                settle_at,
            )


_COLUMNS = {
    "report_totals": "subject, key, clicks, contacts, human_immediate, human_settled,"
    " suspected_immediate, suspected_settled, first_at, last_at",
    "report_contacts": "subject, key, recipient, clicks, human_clicks, first_at, last_at",
    "report_hours": "subject, key, start, clicks, human",
    "report_unsettled": "event_id, suspected, at",
    "clicks": "event_id, recipient, message_id, campaign_id, canonical, system, test,"
    " occurred_at, suspected, settled, settle_at",
}


def load_sqlite(
    path: Path, tables: dict[str, list[tuple[Any, ...]]], clicks: Iterable[tuple[Any, ...]]
) -> None:
    store = SqliteStore(path)  # creates and migrates the file
    store.open_sync()
    store.close_sync()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        for table, rows in [*tables.items(), ("clicks", clicks)]:
            columns = _COLUMNS[table]
            marks = ", ".join("?" * (columns.count(",") + 1))
            conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    conn.execute("ANALYZE")
    conn.close()


def load_postgres(
    url: str, tables: dict[str, list[tuple[Any, ...]]], clicks: Iterable[tuple[Any, ...]]
) -> None:
    import psycopg

    from connector.storage.postgres import PgStore

    store = PgStore(url)
    store.open_sync()
    store.close_sync()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, rows in [*tables.items(), ("clicks", clicks)]:
            with cur.copy(f"COPY {table} ({_COLUMNS[table]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")


def pipeline_tables(path: Path, sample: list[Click]) -> dict[str, list[tuple[Any, ...]]]:
    """The four tables after `sample` went through `count_clicks`, then the settled ones
    through `count_settlements`, in batches of 100 as the processor calls them."""
    store = SqliteStore(path)
    store.open_sync()
    settled = [replace(c.click, suspected=c.settled_suspected) for c in sample if c.settled]
    try:
        for start in range(0, len(sample), 100):
            batch = [c.click for c in sample[start : start + 100]]
            store.transaction_sync(lambda tx, b=batch: tx.count_clicks(b))
        for start in range(0, len(settled), 100):
            batch = settled[start : start + 100]
            store.transaction_sync(lambda tx, b=batch: tx.count_settlements(b))
    finally:
        store.close_sync()
    return dump(path)


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            t: conn.execute(f"SELECT {_COLUMNS[t]} FROM {t} ORDER BY {ORDER[t]}").fetchall()
            for t in TABLES
        }
    finally:
        conn.close()
