"""The scenario tables keep an ESP's ids of kilobytes bounded (start + hash) on both backends:
written, then found by the id as the ESP gave it; keys stored before migration 0013 are
bounded by it and found the same way."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from yoyo import get_backend

from connector.storage.migrate import migrate, migrations_for
from connector.storage.postgres import PgStore, yoyo_url
from connector.storage.scenario_keys import scenario_key
from connector.storage.scenario_records import SendKey, TimerRecord
from connector.storage.sqlite import SqliteStore
from tests.storage.conftest import Store
from tests.storage.test_contract import run
from tests.storage.test_contract_scenarios import click, person

LONG = "".join(hashlib.sha512(bytes([n])).hexdigest() for n in range(12))  # 1.5 KB of hex
MESSAGE, CAMPAIGN, WHO = f"m-{LONG}", f"c-{LONG[::-1]}", f"{LONG}@example.org"


@pytest.mark.parametrize(
    "key", ["", "short", "x" * 256, "x" * 257, LONG, "\U0001f600" * 900, "a\x1f" * 200]
)
def test_bounding_is_idempotent_and_fits(key: str) -> None:
    """A bounded key bounds to itself; a long one fits in 256 characters, unique by hash."""
    once = scenario_key(key)
    assert scenario_key(once) == once and len(once) <= 256
    assert (once == key) == (len(key) <= 256)


def _long_rows(tx: Any) -> None:
    tx.record_recipients([person(WHO, "delivered", 1.0, message=MESSAGE)])
    tx.record_clicks([click("e1", WHO, 2.0, message_id=MESSAGE, campaign_id=CAMPAIGN)])
    wait = TimerRecord("w1", "r1", "wait", SendKey("message", MESSAGE), WHO, 99.0, "delivery", 0.0)
    tx.add_timers([wait])
    tx.record_entry(f"once:r1:{WHO}:m:{MESSAGE}", "r1", "e1", 1.0)


def _found_by_full_ids(store: Store) -> None:
    """Every lookup by the full id finds the rows written with it."""
    message = SendKey("message", MESSAGE)
    assert run(store, lambda tx: tx.send_known(message))
    assert [t.id for t in run(store, lambda tx: tx.timers(send=message))] == ["w1"]
    assert run(store, lambda tx: tx.recipient_record(MESSAGE, WHO)) is not None
    clicked = run(store, lambda tx: tx.clicked_recipients(SendKey("campaign", CAMPAIGN), "", 9, 5))
    assert clicked == [scenario_key(WHO)]
    holder = run(store, lambda tx: tx.entry_holder(f"once:r1:{WHO}:m:{MESSAGE}", "e2", 2.0, None))
    assert holder == ("r1", "e1", 1.0)
    assert run(store, lambda tx: tx.resolve_wait("r1", WHO, MESSAGE, 3.0, 4.0)) == "w1"


def test_kilobyte_keys_are_written_and_found_by_the_full_id(store: Store) -> None:
    """Recipients, clicks, a wait and an entry keyed by ids of kilobytes (PostgreSQL's
    index rows hold 2,704 bytes) are stored and found by the ids as given."""
    run(store, _long_rows)
    _found_by_full_ids(store)


def _sqlite(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[str, Callable[[], Any], str]:
    path = tmp_path / "old.db"
    return f"sqlite:///{path}", lambda: sqlite3.connect(path), "?"


def _postgresql(
    tmp_path: Path, request: pytest.FixtureRequest
) -> tuple[str, Callable[[], Any], str]:
    url = request.getfixturevalue("pg_url")
    return yoyo_url(url), lambda: psycopg.connect(url), "%s"


def _old_rows(connect: Callable[[], Any], mark: str) -> None:
    """Rows as the code before 0013 wrote them: keys as the ESP gave them (under
    PostgreSQL's limit, so they could be stored there too)."""
    message, who = MESSAGE[:800], WHO[:800]
    values = {
        "recipients": (CAMPAIGN[:800], message, who, "delivered", 1.0, 0, b"{}"),
        "clicks": ("e1", who, message, CAMPAIGN[:800], "https://x/", 0, 0, 2.0, 0, 1, None),
        "timers": (
            "w1",
            "r1",
            "wait",
            "message",
            message,
            who,
            99.0,
            "pending",
            "delivery",
            0.0,
            None,
            None,
            0,
            b"{}",
            0.0,
        ),
        "entries": (f"once:r1:{who}:m:{message}", "r1", "e1", 1.0),
    }
    with connect() as conn:
        for table, row in values.items():
            marks = ", ".join([mark] * len(row))
            conn.execute(f"INSERT INTO {table} VALUES ({marks})", row)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0013_bounds_keys_stored_before(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Long keys stored before 0013 are bounded by it, so lookups by the full id find them."""
    url, connect, mark = {"sqlite": _sqlite, "postgresql": _postgresql}[backend](tmp_path, request)
    known = migrations_for(backend)
    database = get_backend(url)
    with database.lock():
        database.apply_migrations(database.to_apply(known.filter(lambda m: m.id < "0013")))
    database.connection.close()
    _old_rows(connect, mark)
    assert migrate(backend, url).applied == ["0013.bounded-scenario-keys"]
    store: Store = (
        SqliteStore(tmp_path / "old.db", bot_ttl_seconds=100)
        if backend == "sqlite"
        else PgStore(request.getfixturevalue("pg_url"), bot_ttl_seconds=100)
    )
    store.open_sync()
    try:
        message = SendKey("message", MESSAGE[:800])
        assert run(store, lambda tx: tx.send_known(message))
        assert run(store, lambda tx: tx.recipient_record(MESSAGE[:800], WHO[:800])) is not None
        assert run(store, lambda tx: tx.resolve_wait("r1", WHO[:800], MESSAGE[:800], 3, 4)) == "w1"
        key = f"once:r1:{WHO[:800]}:m:{MESSAGE[:800]}"
        assert run(store, lambda tx: tx.entry_holder(key, "e2", 2.0, None)) == ("r1", "e1", 1.0)
    finally:
        store.close_sync()
