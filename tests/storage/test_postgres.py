"""What only PostgreSQL has to prove: migrations, secrets kept out of errors, reconnection,
and claims that stay exclusive when several stores (processes) share one database."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from connector.errors import StorageUnavailable
from connector.storage.base import (
    EventRecord,
    IngestBatch,
    IngestOutcome,
    NewDelivery,
    Routed,
    Tx,
)
from connector.storage.migrate import migrate, migrations_for
from connector.storage.postgres import PgStore, describe, yoyo_url
from connector.storage.scenario_records import SendKey, TimerRecord
from tests.support.postgres import free_port


@pytest.fixture
def pair(pg_url: str) -> Iterator[tuple[PgStore, PgStore]]:
    """Two stores (two pools, as two processes would have) on one database."""
    stores = (PgStore(pg_url, pool_size=4), PgStore(pg_url, pool_size=4))
    for store in stores:
        store.open_sync()
    yield stores
    for store in stores:
        store.close_sync()


def test_migrations_apply_once(pg_url: str) -> None:
    """A new database gets every migration; running again applies nothing."""
    first = migrate("postgresql", yoyo_url(pg_url))
    again = migrate("postgresql", yoyo_url(pg_url))
    assert first.applied == [m.id for m in migrations_for("postgresql")]
    assert first.applied[0] == "0001.initial"
    assert again.applied == [] and again.current == first.current


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    """A migration this code does not know means a newer release migrated the database."""
    migrate("postgresql", yoyo_url(pg_url))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc)"
            " VALUES (md5('future') || md5('x'), '9999.future', now())"
        )
    with pytest.raises(StorageUnavailable, match="newer release"):
        PgStore(pg_url).open_sync()


def test_the_password_never_appears_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """An unreachable server is StorageUnavailable naming the server, never the password."""
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    assert (
        describe(url)
        == f"postgresql://postgres@127.0.0.1:{url.split(':')[3].split('/')[0]}/nowhere"
    )
    caplog.set_level(logging.DEBUG)
    store = PgStore(url)
    with pytest.raises(StorageUnavailable) as raised:
        store.open_sync()
    assert "s3cret-pw" not in str(raised.value) and "127.0.0.1" in str(raised.value)
    assert "s3cret-pw" not in caplog.text
    assert yoyo_url(url).startswith("postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:")
    assert "connect_timeout=2" in yoyo_url(url)


def test_an_unknown_database_is_unavailable(pg_server: str) -> None:
    """Opening a database that does not exist fails as StorageUnavailable (a 503, a retry)."""
    missing = pg_server.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StorageUnavailable, match="no_such_database"):
        PgStore(missing).open_sync()


def _in_a_transaction(store: PgStore, batch: IngestBatch) -> IngestOutcome:
    return store.transaction_sync(lambda tx: tx.ingest(batch))


def _as_ingest(store: PgStore, batch: IngestBatch) -> IngestOutcome:
    """`Store.ingest`: a plain ingest is one autocommitted INSERT (postgres_writer.py)."""
    return asyncio.run(store.ingest(batch))


@pytest.mark.parametrize("ingest", [_in_a_transaction, _as_ingest])
def test_the_store_reconnects_after_its_connections_are_killed(
    pg_url: str, ingest: Callable[[PgStore, IngestBatch], IngestOutcome]
) -> None:
    """Connections ended by the server (a restart, a failover) are replaced transparently."""
    store = PgStore(pg_url)
    store.open_sync()
    try:
        assert store.transaction_sync(lambda tx: tx.counts()) == {}
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        time.sleep(0.2)
        batch = IngestBatch("s", 1.0, [EventRecord("e", "t", "s", "p", 1.0, 1.0, b"{}", b"{}")])
        assert ingest(store, batch).new == ["e"]
        assert ingest(store, batch).duplicates == ["e"]
    finally:
        store.close_sync()


# exclusive claims across stores ------------------------------------------------------------
def _race(stores: tuple[PgStore, PgStore], claim: Callable[[Tx], list[str]]) -> list[str]:
    """Two threads per store claim until nothing is left; every id any of them got."""
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(store: PgStore) -> None:
        while True:
            got = store.transaction_sync(claim)
            if not got:
                return
            with lock:
                claimed.extend(got)

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return claimed


def _slowly(ids: list[str]) -> list[str]:
    time.sleep(0.003)  # hold the claim's locks while the others claim
    return ids


def test_two_stores_never_claim_the_same_delivery(pair: tuple[PgStore, PgStore]) -> None:
    """Concurrent claim_deliveries from two stores hand out each delivery exactly once."""
    new = [NewDelivery(f"d{n}", f"e{n}", "a", ["r"], b"x", float(n % 7)) for n in range(300)]
    pair[0].transaction_sync(lambda tx: tx.add_deliveries(new))
    claimed = _race(pair, lambda tx: _slowly([d.id for d in tx.claim_deliveries(10.0, 7, 1e6)]))
    assert sorted(claimed) == sorted(d.id for d in new)


def test_two_stores_never_fire_the_same_timer(pair: tuple[PgStore, PgStore]) -> None:
    """claim_timers holds its timers until the transaction ends: no timer fires twice."""
    timers = [
        TimerRecord(f"t{n}", "r", "not_clicked", SendKey("all"), None, float(n % 5), "config", 0.0)
        for n in range(200)
    ]

    def fire(tx: Tx) -> list[str]:
        due = [t.id for t in tx.claim_timers(10.0, 6)]
        for timer_id in _slowly(due):
            tx.finish_timer(timer_id, "done", 10.0)
        return due

    pair[0].transaction_sync(lambda tx: tx.add_timers(timers))
    assert sorted(_race(pair, fire)) == sorted(t.id for t in timers)


def test_two_stores_never_route_or_settle_the_same_event(pair: tuple[PgStore, PgStore]) -> None:
    """pending_events and due_settlements hand each event to one worker only."""
    events = [
        EventRecord(f"e{n}", "email.clicked", "s", "p", 1.0, 1.0, b"{}", b"{}") for n in range(200)
    ]
    pair[0].transaction_sync(lambda tx: tx.ingest(IngestBatch("s", 1.0, events)))

    def route(tx: Tx) -> list[str]:
        rows = _slowly([e.id for e in tx.pending_events(9)])
        tx.complete_events([Routed(i, None, {}, settle_at=5.0) for i in rows])
        return rows

    def settle(tx: Tx) -> list[str]:
        rows = _slowly([e.id for e in tx.due_settlements(10.0, 9)])
        tx.complete_settlements([Routed(i, None, {}) for i in rows])
        return rows

    assert sorted(_race(pair, route)) == sorted(e.id for e in events)
    assert sorted(_race(pair, settle)) == sorted(e.id for e in events)


@pytest.mark.parametrize("first", ["timeout", "click"])
def test_a_wait_is_won_by_the_click_or_the_timeout_never_both(
    pair: tuple[PgStore, PgStore], first: str
) -> None:
    """Whichever of a click and a firing timeout gets the wait first, the other finds none."""
    wait = TimerRecord("w", "r", "wait", SendKey("message", "m"), "a", 5.0, "api", 0.0)
    pair[0].transaction_sync(lambda tx: tx.add_timers([wait]))
    results: dict[str, Any] = {}

    def timeout(tx: Tx) -> list[str]:
        claimed = [t.id for t in tx.claim_timers(10.0, 10)]
        time.sleep(0.3 if first == "timeout" else 0)
        for timer_id in claimed:
            tx.finish_timer(timer_id, "timed_out", 10.0)
        return claimed

    def click(tx: Tx) -> str | None:
        won = tx.resolve_wait("r", "a", "m", 4.0, 10.0)
        time.sleep(0.3 if first == "click" else 0)
        return won

    order = [("timeout", pair[0], timeout), ("click", pair[1], click)]
    if first == "click":
        order.reverse()
    threads = []
    for name, store, fn in order:
        thread = threading.Thread(
            target=lambda n=name, s=store, f=fn: results.__setitem__(n, s.transaction_sync(f))
        )
        thread.start()
        threads.append(thread)
        time.sleep(0.1)
    for thread in threads:
        thread.join(timeout=10)
    assert (results["timeout"], results["click"]) == (
        (["w"], None) if first == "timeout" else ([], "w")
    )
    final = pair[0].transaction_sync(lambda tx: tx.timer("w"))
    assert final is not None and final.status == ("timed_out" if first == "timeout" else "clicked")


def test_plain_ingests_are_redone_with_conflict_handling_after_a_stored_event(
    pg_url: str,
) -> None:
    """An all-new INSERT that meets a stored event fails whole and is redone with ON
    CONFLICT; the next `patience` batches skip the attempt, then it is tried again."""
    store = PgStore(pg_url)
    store.optimism.patience = 1
    store.open_sync()

    def ingest(*ids: str) -> tuple[list[str], list[str], int]:
        events = [EventRecord(i, "t", "s", "p", 1.0, 1.0, b"{}", b"{}") for i in ids]
        outcome = asyncio.run(store.ingest(IngestBatch("s", 1.0, events)))
        return outcome.new, outcome.duplicates, store.optimism.skip

    try:
        assert ingest("a") == (["a"], [], 0)
        assert ingest("a", "b") == (["b"], ["a"], 1)  # the attempt failed: skip one batch
        assert ingest("b", "c") == (["c"], ["b"], 0)  # with ON CONFLICT straight away
        assert ingest("c", "d") == (["d"], ["c"], 1)  # tried again, failed again
    finally:
        store.close_sync()
