"""Copy every table of a SQLite database into an empty PostgreSQL one (`connector copy-data`).

Row for row and column for column, so nothing the service relies on is lost: events with
their decisions and verdicts (and so the dedup ids ESP retries are checked against),
pending and dead deliveries with their attempts, nonces, control tasks, the scenario
engine's recipients, click index, timers and entries, and the bot evidence. Identity
columns keep their values and their sequences continue after them. The target must be
migrated (it is, by `migrate`) and empty: copying into a live database could interleave
with new events, so stop the service for the copy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from connector.storage.migrate import migrate
from connector.storage.postgres import yoyo_url

# Parents before children is not needed (no foreign keys), but inbox first reads well.
TABLES = (
    "events",
    "rejections",
    "nonces",
    "deliveries",
    "delivery_bodies",
    "attempts",
    "tasks",
    "recipients",
    "clicks",
    "timers",
    "entries",
    "scenario_state",
    "bot_deliveries",
    "bot_clicks",
    "links",
    "report_totals",
    "report_contacts",
    "report_hours",
    "report_unsettled",
)
# Identity columns whose sequence must continue after the copied values.
IDENTITY = {"events": "seq", "rejections": "id", "attempts": "id", "tasks": "id"}
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    rows: int


class TargetNotEmpty(Exception):
    """The PostgreSQL database already holds events."""


def copy_sqlite_to_postgres(
    source: Path, target_url: str, progress: Callable[[str, int], None] | None = None
) -> list[Copied]:
    """Copy `source` into the database at `target_url`, in one transaction."""
    migrate("sqlite", f"sqlite:///{source.resolve()}")
    migrate("postgresql", yoyo_url(target_url))
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        with psycopg.connect(target_url) as writer:
            if writer.execute("SELECT EXISTS (SELECT 1 FROM events)").fetchone() == (True,):
                raise TargetNotEmpty("the PostgreSQL database already holds events")
            copied = [_copy_table(reader, writer, table, progress) for table in TABLES]
            for table, column in IDENTITY.items():
                writer.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"  # noqa: S608
                    f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                )
        return copied
    finally:
        reader.close()


def count_rows(source: Path) -> int:
    """How many rows a copy will move (for a progress bar); 0 for tables not there yet."""
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        total = 0
        for table in TABLES:
            try:
                total += reader.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            except sqlite3.OperationalError:
                continue
        return total
    finally:
        reader.close()


def _copy_table(
    reader: sqlite3.Connection,
    writer: psycopg.Connection[Any],
    table: str,
    progress: Callable[[str, int], None] | None,
) -> Copied:
    cursor = reader.execute(f"SELECT * FROM {table}")  # noqa: S608 (our table names)
    columns = [d[0] for d in cursor.description]
    text = _text_columns(writer, table)
    as_text = [column in text for column in columns]
    overriding = " OVERRIDING SYSTEM VALUE" if table in IDENTITY else ""
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}){overriding}"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(columns))})"
    )
    total = 0
    for rows in _batches(cursor):
        with writer.cursor() as out:
            out.executemany(insert, [_adapt(row, as_text) for row in rows])
        total += len(rows)
        if progress is not None:
            progress(table, len(rows))
    return Copied(table, total)


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    while rows := cursor.fetchmany(BATCH):
        yield rows


def _text_columns(writer: psycopg.Connection[Any], table: str) -> set[str]:
    rows = writer.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " AND data_type = 'text'",
        (table,),
    ).fetchall()
    return {row[0] for row in rows}


def _adapt(row: tuple[Any, ...], as_text: list[bool]) -> tuple[Any, ...]:
    """SQLite's loose types as PostgreSQL wants them: blobs as bytes, except in TEXT columns,
    where SQLite kept JSON written as bytes (`decision`, `rule_ids`) that must stay text."""
    return tuple(_value(value, text) for value, text in zip(row, as_text, strict=True))


def _value(value: Any, text: bool) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8") if text else bytes(value)
    return value
