"""Without an index on `events.received_at` (migration 0005), retention's prune and the
dashboard's "since" count still read an index range on SQLite: they walk `seq`."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from connector.storage.sqlite import SqliteStore
from connector.storage.sqlite_tx import SqliteTx


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to a fully migrated, empty SQLite store."""
    store = SqliteStore(tmp_path / "plans.db")
    store.open_sync()
    store.close_sync()
    connection = sqlite3.connect(store.path, isolation_level=None)
    yield connection
    connection.close()


def _plans(conn: sqlite3.Connection, call: Callable[[SqliteTx], object]) -> dict[str, list[str]]:
    """Each statement `call` runs on `events`, with its query plan's lines."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    call(SqliteTx(conn))
    conn.set_trace_callback(None)
    return {
        sql: [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for sql in statements
        if "FROM events" in sql
    }


def test_no_index_on_received_at(conn: sqlite3.Connection) -> None:
    """Every stored event pays one index entry less."""
    indexes = conn.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'events'").fetchall()
    assert not [sql for (sql,) in indexes if sql and "received_at)" in sql and "INDEX" in sql]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda tx: tx.prune(now=1000.0, retention_seconds=600.0), id="prune"),
        pytest.param(lambda tx: tx.source_view("cio", 15.0), id="source_view"),
    ],
)
def test_reads_of_received_at_search_an_index(
    conn: sqlite3.Connection, call: Callable[[SqliteTx], object]
) -> None:
    """The statement itself searches the rowid or an index; only prune's bound walks rows
    from the oldest, and stops at the first one inside retention (LIMIT 1 in seq order)."""
    plans = _plans(conn, call)
    assert plans
    for sql, lines in plans.items():
        assert lines[0].startswith("SEARCH events"), (sql, lines)
        assert "USE TEMP B-TREE" not in " ".join(lines), (sql, lines)
