"""The outbox's delivery path on every backend: bodies kept apart from the rows that claim
and record rewrite (migration 0006), batches recorded by one statement per table, and a
first attempt that delivered kept in its delivery's row alone (0009)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest
from yoyo import get_backend

from connector.storage.base import AttemptRecord, NewDelivery, Routed, Tx
from connector.storage.migrate import migrations_for
from connector.storage.postgres import PgStore, yoyo_url
from connector.storage.sqlite import SqliteStore
from tests.storage.conftest import Store
from tests.storage.test_contract import batch, run


def delivery(event_id: str, body: bytes, action: str = "a1") -> NewDelivery:
    return NewDelivery(f"d-{event_id}-{action}", event_id, action, ["r1"], body, 10.0)


def attempt(delivery_id: str, n: int, outcome: str, at: float) -> AttemptRecord:
    next_at = at + 10.0 if outcome == "retry" else None
    return AttemptRecord(delivery_id, n, at, outcome, 503, f"e{n}", 1.5, next_at)


def history(tx: Tx) -> list[tuple[Any, ...]]:
    """Every attempt, from `attempt_history`, and how many have an `attempts` row."""
    conn = cast(Any, tx).conn
    rows = conn.execute(
        "SELECT delivery_id, attempt, at, outcome, status_code, error, duration_ms"
        " FROM attempt_history ORDER BY delivery_id, attempt, at"
    ).fetchall()
    stored = conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    return [*map(tuple, rows), ("rows", stored)]


def bodies(tx: Tx) -> int:
    """How many bodies the outbox holds (raw SQL: the contract has no reader for it)."""
    conn = cast(Any, tx).conn  # sqlite3's and psycopg's connections both execute
    return int(conn.execute("SELECT COUNT(*) FROM delivery_bodies").fetchone()[0])


def test_each_delivery_is_claimed_with_its_own_body_once(store: Store) -> None:
    """Bodies follow their deliveries; adding an id again keeps the first body."""
    added = [delivery("e1", b'{"a":1}'), delivery("e1", b'{"b":2}', "a2"), delivery("e2", b"x")]
    run(store, lambda tx: tx.add_deliveries(added))
    assert run(store, lambda tx: tx.add_deliveries([delivery("e1", b"changed")])) == 0
    claimed = run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    assert sorted((d.id, d.body) for d in claimed) == [
        ("d-e1-a1", b'{"a":1}'),
        ("d-e1-a2", b'{"b":2}'),
        ("d-e2-a1", b"x"),
    ]


def test_a_batch_records_every_attempt_and_each_delivery_s_last(store: Store) -> None:
    """Every attempt is kept; a delivery twice in one batch ends in its last attempt's state."""
    run(store, lambda tx: tx.add_deliveries([delivery(f"e{n}", b"{}") for n in range(30)]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 30, 5.0))
    records = [attempt(f"d-e{n}-a1", 1, "delivered", 11.0) for n in range(1, 30)]
    records += [attempt("d-e0-a1", 1, "retry", 11.0), attempt("d-e0-a1", 2, "dead", 12.0)]
    run(store, lambda tx: tx.record_attempts(records))
    assert run(store, lambda tx: tx.counts()) == {"delivered": 29, "dead": 1}
    (dead,) = run(store, lambda tx: tx.list_deliveries("dead", 10))
    assert (dead.attempts, dead.last_status, dead.last_error) == (2, 503, "e2")
    assert run(store, lambda tx: tx.replay(None, 20.0)) == 1
    (again,) = run(store, lambda tx: tx.claim_deliveries(20.0, 10, 5.0))
    assert (again.id, again.attempt, again.first_attempt_at, again.body) == (
        "d-e0-a1",
        3,
        None,
        b"{}",
    )


def test_a_pruned_delivery_takes_its_body_along(store: Store) -> None:
    """Prune drops old delivered deliveries and their bodies; pending ones keep theirs."""
    run(store, lambda tx: tx.ingest(batch("e1", "e2")))
    run(store, lambda tx: tx.complete_events([Routed(i, None, {}) for i in ("e1", "e2")]))
    run(store, lambda tx: tx.add_deliveries([delivery("e1", b"1"), delivery("e2", b"2")]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    run(store, lambda tx: tx.record_attempts([attempt("d-e1-a1", 1, "delivered", 11.0)]))
    run(store, lambda tx: tx.prune(now=1000.0, retention_seconds=600.0))
    assert run(store, bodies) == 1
    assert [d.body for d in run(store, lambda tx: tx.claim_deliveries(100.0, 10, 5.0))] == [b"2"]


def test_a_first_attempt_that_delivered_is_kept_in_its_row_alone(store: Store) -> None:
    """No `attempts` row for it, yet the history shows it, beside a retried delivery's rows."""
    run(store, lambda tx: tx.add_deliveries([delivery("e1", b"1"), delivery("e2", b"2")]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    first = AttemptRecord("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.5, None)
    run(store, lambda tx: tx.record_attempts([first, attempt("d-e2-a1", 1, "retry", 11.0)]))
    run(store, lambda tx: tx.claim_deliveries(30.0, 10, 5.0))
    retried = AttemptRecord("d-e2-a1", 2, 31.0, "delivered", 200, None, 3.5, None)
    run(store, lambda tx: tx.record_attempts([retried]))
    assert run(store, history) == [
        ("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.5),
        ("d-e2-a1", 1, 11.0, "retry", 503, "e1", 1.5),
        ("d-e2-a1", 2, 31.0, "delivered", 200, None, 3.5),
        ("rows", 2),
    ]


def test_a_replayed_delivery_keeps_its_first_attempt_in_the_history(store: Store) -> None:
    """Replaying a delivery delivered at once moves its first attempt out of the row first."""
    run(store, lambda tx: tx.add_deliveries([delivery("e1", b"1")]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    first = AttemptRecord("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.5, None)
    run(store, lambda tx: tx.record_attempts([first]))
    assert run(store, lambda tx: tx.replay(["d-e1-a1"], 20.0)) == 1
    (again,) = run(store, lambda tx: tx.claim_deliveries(20.0, 10, 5.0))
    assert (again.attempt, again.first_attempt_at) == (2, None)
    second = AttemptRecord("d-e1-a1", 2, 21.0, "delivered", 200, None, 3.5, None)
    run(store, lambda tx: tx.record_attempts([second]))
    assert run(store, history) == [
        ("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.5),
        ("d-e1-a1", 2, 21.0, "delivered", 200, None, 3.5),
        ("rows", 2),
    ]


def test_a_first_attempt_recorded_before_0009_shows_once(store: Store) -> None:
    """A delivery delivered at once before 0009 kept an `attempts` row: the history shows
    that row, not a second one made from the delivery's."""
    run(store, lambda tx: tx.add_deliveries([delivery("e1", b"1")]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    first = AttemptRecord("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.5, None)
    run(store, lambda tx: tx.record_attempts([first]))

    def as_before(tx: Tx) -> None:
        cast(Any, tx).conn.execute(
            "INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, duration_ms)"
            " VALUES ('d-e1-a1', 1, 11.0, 'delivered', 204, 2.0)"
        )

    run(store, as_before)
    assert run(store, history) == [("d-e1-a1", 1, 11.0, "delivered", 204, None, 2.0), ("rows", 1)]


def _raw(backend: str, where: str) -> Any:
    if backend == "sqlite":
        return contextlib.closing(sqlite3.connect(where, isolation_level=None))
    return psycopg.connect(where, autocommit=True)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_moves_queued_bodies_out_of_the_rows(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A delivery queued before 0006 is claimed with its body after it."""
    if backend == "sqlite":
        where = str(tmp_path / "old.db")
        yoyo, store = f"sqlite:///{where}", SqliteStore(Path(where))
    else:
        where = request.getfixturevalue("pg_url")
        yoyo, store = yoyo_url(where), PgStore(where)  # type: ignore[assignment]
    database = get_backend(yoyo)
    with database.lock():
        database.apply_migrations(migrations_for(backend).filter(lambda m: m.id < "0005"))
    database.connection.close()
    mark = "?" if backend == "sqlite" else "%s"
    with _raw(backend, where) as conn:
        conn.execute(
            "INSERT INTO deliveries (id, event_id, action_id, rule_ids, body, next_attempt_at,"
            f" created_at, updated_at) VALUES ('d1', 'e1', 'a1', '[]', {mark}, 1, 1, 1)",
            (b'{"old":1}',),
        )
    store.open_sync()
    try:
        (claimed,) = run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
        assert (claimed.id, claimed.body) == ("d1", b'{"old":1}')
    finally:
        store.close_sync()
