"""The SQLite store: atomic ingest, dedup, nonce replay protection, group commit, outbox."""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from connector.storage import sqlite_writer
from connector.storage.base import AttemptRecord, EventRecord, IngestBatch, NewDelivery, Routed
from connector.storage.sqlite import SqliteStore
from connector.storage.sqlite_jobs import locked, peer_waiting


def _event(event_id: str) -> EventRecord:
    return EventRecord(event_id, "email.clicked", "cio", "customerio", 1.0, 2.0, b"{}", b"{}")


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = SqliteStore(tmp_path / "t.db")
    db.open_sync()
    yield db
    db.close_sync()


def _count(store: SqliteStore, table: str) -> int:
    with sqlite3.connect(store.path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_ingest_dedups_by_event_id(store: SqliteStore) -> None:
    """The same event id stored twice is reported as a duplicate the second time."""
    batch = IngestBatch(source="cio", received_at=2.0, events=[_event("e1"), _event("e2")])
    first = store.transaction_sync(lambda tx: tx.ingest(batch))
    second = store.transaction_sync(lambda tx: tx.ingest(batch))
    assert first.new == ["e1", "e2"]
    assert second.new == [] and second.duplicates == ["e1", "e2"]
    assert _count(store, "events") == 2


def test_failing_caller_rolls_back_only_its_own_writes(store: SqliteStore) -> None:
    """In a group commit, one caller's exception leaves the others' writes committed."""

    def good(tx):  # type: ignore[no-untyped-def]
        return tx.ingest(IngestBatch("cio", 2.0, [_event("ok")]))

    def bad(tx):  # type: ignore[no-untyped-def]
        tx.ingest(IngestBatch("cio", 2.0, [_event("half")]))
        raise RuntimeError("boom")

    async def both() -> list[object]:
        return await asyncio.gather(
            store.transaction(good), store.transaction(bad), return_exceptions=True
        )

    results = asyncio.run(both())
    assert isinstance(results[1], RuntimeError)
    with sqlite3.connect(store.path) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM events")]
    assert ids == ["ok"]


def test_nonce_reuse_with_other_body_is_refused(store: SqliteStore) -> None:
    """A signature token seen before is accepted again only with the same body digest."""
    first = IngestBatch("mg", 2.0, [_event("a")], nonce="tok", body_digest="d1")
    retry = IngestBatch("mg", 3.0, [_event("a")], nonce="tok", body_digest="d1")
    forged = IngestBatch("mg", 4.0, [_event("b")], nonce="tok", body_digest="d2")
    store.transaction_sync(lambda tx: tx.ingest(first))
    assert store.transaction_sync(lambda tx: tx.ingest(retry)).duplicates == ["a"]
    refused = store.transaction_sync(lambda tx: tx.ingest(forged))
    assert refused.replayed_nonce and refused.new == []  # ingest answers it as a 401
    assert _count(store, "events") == 1


def test_many_concurrent_ingests_all_commit(store: SqliteStore) -> None:
    """Hundreds of concurrent callers are all committed (group commit loses nothing)."""

    async def many() -> None:
        await asyncio.gather(
            *(
                store.transaction(
                    lambda tx, i=i: tx.ingest(IngestBatch("c", 1.0, [_event(f"e{i}")]))
                )
                for i in range(300)
            )
        )

    asyncio.run(many())
    assert _count(store, "events") == 300


def test_outbox_claim_lease_and_record(store: SqliteStore) -> None:
    """A claimed delivery is leased (not claimed twice) and recording outcomes updates it."""
    store.transaction_sync(
        lambda tx: tx.add_deliveries(
            [NewDelivery("d1", "e1", "a1", ["r1"], b"{}", not_before=10.0)]
        )
    )
    first = store.transaction_sync(lambda tx: tx.claim_deliveries(10.0, 10, 60.0))
    again = store.transaction_sync(lambda tx: tx.claim_deliveries(11.0, 10, 60.0))
    assert [d.id for d in first] == ["d1"] and first[0].attempt == 1
    assert again == []
    # an attempt that never reported (a crash) is due again once its lease ends
    expired = store.transaction_sync(lambda tx: tx.claim_deliveries(70.0, 10, 60.0))
    assert [(d.id, d.attempt) for d in expired] == [("d1", 1)]
    store.transaction_sync(
        lambda tx: tx.record_attempts(
            [AttemptRecord("d1", 1, 11.0, "retry", 500, "HTTP 500", 3.0, 12.0)]
        )
    )
    later = store.transaction_sync(lambda tx: tx.claim_deliveries(12.0, 10, 60.0))
    assert later[0].attempt == 2 and later[0].first_attempt_at == 11.0
    store.transaction_sync(
        lambda tx: tx.record_attempts(
            [AttemptRecord("d1", 2, 12.0, "dead", 404, "HTTP 404", 3.0, None)]
        )
    )
    rows = store.transaction_sync(lambda tx: tx.list_deliveries("dead", 10))
    assert [(r.id, r.attempts, r.last_status) for r in rows] == [("d1", 2, 404)]
    assert store.transaction_sync(lambda tx: tx.replay(None, 20.0)) == 1
    assert store.transaction_sync(lambda tx: tx.claim_deliveries(20.0, 10, 60.0))[0].id == "d1"


def test_prune_forgets_old_events_and_bot_state_but_not_pending_work(tmp_path: Path) -> None:
    """Housekeeping drops rows past retention (and bot evidence past its TTL), keeping work."""
    store = SqliteStore(tmp_path / "prune.db", bot_ttl_seconds=100.0)
    store.open_sync()
    try:
        store.transaction_sync(lambda tx: tx.ingest(IngestBatch("c", 1.0, [_event("old")])))
        store.transaction_sync(lambda tx: tx.complete_events([Routed("old", b"{}", {})]))
        store.transaction_sync(lambda tx: tx.bot_state().record_delivery("m", 1.0, 1.0))
        store.transaction_sync(lambda tx: tx.ingest(IngestBatch("c", 1.0, [_event("busy")])))
        store.transaction_sync(lambda tx: tx.complete_events([Routed("busy", b"{}", {})]))
        store.transaction_sync(
            lambda tx: tx.add_deliveries(
                [NewDelivery("d", "busy", "a", ["r"], b"{}", not_before=1.0)]
            )
        )
        removed = store.transaction_sync(lambda tx: tx.prune(now=10_000.0, retention_seconds=500))
        assert removed == 1
        with sqlite3.connect(store.path) as conn:
            assert [r[0] for r in conn.execute("SELECT id FROM events")] == ["busy"]
            assert conn.execute("SELECT COUNT(*) FROM bot_deliveries").fetchone() == (0,)
    finally:
        store.close_sync()


def test_two_writers_on_one_file_take_turns_without_errors(tmp_path: Path) -> None:
    """Two stores (as the web and worker processes are) share the file through its lock file."""
    first, second = SqliteStore(tmp_path / "t.db"), SqliteStore(tmp_path / "t.db")
    first.open_sync()
    second.open_sync()

    async def both() -> None:
        await asyncio.gather(
            *(
                (first if i % 2 else second).transaction(
                    lambda tx, i=i: tx.ingest(IngestBatch("c", 1.0, [_event(f"e{i}")]))
                )
                for i in range(400)
            )
        )

    try:
        asyncio.run(both())
    finally:
        first.close_sync()
        second.close_sync()
    assert _count(first, "events") == 400
    assert (tmp_path / "t.db.lock").exists()


def test_closing_answers_work_handed_in_during_the_same_loop_turn(tmp_path: Path) -> None:
    """Work submitted just before the store closes is still committed, not left hanging."""
    store = SqliteStore(tmp_path / "t.db")
    store.open_sync()

    async def submit_then_close() -> object:
        pending = asyncio.ensure_future(
            store.transaction(lambda tx: tx.ingest(IngestBatch("c", 1.0, [_event("last")])))
        )
        await asyncio.sleep(0)  # the job is now waiting for this loop turn's hand-over
        store.close_sync()
        return await asyncio.wait_for(pending, 5)

    outcome = asyncio.run(submit_then_close())
    assert getattr(outcome, "new", None) == ["last"]
    assert _count(store, "events") == 1


def test_only_durable_work_waits_for_a_full_sync(tmp_path: Path) -> None:
    """Ingest commits at the configured level (FULL); a commit holding only background
    bookkeeping runs at NORMAL; a group holding both is durable."""
    store = SqliteStore(tmp_path / "levels.db", synchronous="FULL")
    store.open_sync()

    def level(tx: object) -> int:
        return int(tx.conn.execute("PRAGMA synchronous").fetchone()[0])  # type: ignore[attr-defined]

    async def levels() -> tuple[int, int, list[int]]:
        background = await store.transaction(level, durable=False)
        durable = await store.transaction(level)
        mixed = await asyncio.gather(
            store.transaction(level, durable=False), store.transaction(level)
        )
        return background, durable, list(mixed)

    try:
        assert asyncio.run(levels()) == (1, 2, [2, 2])  # 1 = NORMAL, 2 = FULL
    finally:
        store.close_sync()


@pytest.mark.parametrize(("waits_in_a_row", "pauses"), [(2, True), (1, False), (0, False)])
def test_a_background_writer_gives_way_after_waiting_for_its_peer(
    tmp_path: Path, waits_in_a_row: int, pauses: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a second commit in a row for which it waited on the other process's lock, the
    worker's writer pauses (yield_ratio x its hold, capped) before its next transaction;
    after a single wait (a chance meeting at light load) or unopposed, it does not. A huge
    ratio and a 2 s cap make the pause unmistakable."""
    monkeypatch.setattr(sqlite_writer, "MAX_YIELD_SECONDS", 2.0)
    store = SqliteStore(tmp_path / "y.db", synchronous="NORMAL", yield_ratio=1e6)
    store.open_sync()
    times: list[float] = []

    def stamp(tx: object) -> None:
        times.append(time.perf_counter())
        time.sleep(sqlite_writer.MIN_YIELD_HOLD_SECONDS * 2)  # a hold long enough to yield

    async def three_commits() -> None:
        lock = os.open(tmp_path / "y.db.lock", os.O_RDWR)
        try:
            for n in range(3):
                if n < waits_in_a_row:
                    fcntl.flock(lock, fcntl.LOCK_EX)  # the "web process" is committing
                    asyncio.get_running_loop().call_later(0.02, fcntl.flock, lock, fcntl.LOCK_UN)
                await store.transaction(stamp, durable=False)
        finally:
            os.close(lock)

    try:
        asyncio.run(three_commits())
    finally:
        store.close_sync()
    gap = times[2] - times[1]
    assert (gap >= 2.0) if pauses else (gap < 1.0)


@pytest.mark.parametrize(("short_by", "pauses"), [(None, False), (1, False), (0, True)])
def test_a_background_writer_gives_way_while_its_peer_waits(
    tmp_path: Path, short_by: int | None, pauses: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web process, blocked on the lock, says so (`<db>.want` held shared); when it waited
    through PEER_STREAK of the worker's commits in a row (the web is saturated, not a chance
    meeting) the worker's writer pauses before its next one. `short_by`: the web waited
    through that many fewer (None: through none)."""
    streak = sqlite_writer.PEER_STREAK
    waits = 0 if short_by is None else streak - short_by
    monkeypatch.setattr(sqlite_writer, "MAX_YIELD_SECONDS", 2.0)
    store = SqliteStore(tmp_path / "w.db", synchronous="NORMAL", yield_ratio=1e6)
    store.open_sync()
    web_lock = os.open(tmp_path / "w.db.lock", os.O_RDWR)
    web_want = os.open(tmp_path / "w.db.want", os.O_RDWR)
    probe = os.open(tmp_path / "w.db.want", os.O_RDWR)
    times: list[float] = []
    webs: list[threading.Thread] = []

    def web_commit() -> None:
        with locked(web_lock, web_want):
            pass

    def commit(tx: object) -> None:
        times.append(time.perf_counter())
        if len(times) <= waits:  # the web arrives while this transaction holds the lock
            webs.append(threading.Thread(target=web_commit))
            webs[-1].start()
            deadline = time.monotonic() + 5
            while not peer_waiting(probe) and time.monotonic() < deadline:
                time.sleep(0.001)
        time.sleep(sqlite_writer.MIN_YIELD_HOLD_SECONDS * 2)

    async def commits() -> None:
        for _ in range(streak + 1):
            await store.transaction(commit, durable=False)
            for web in webs:  # done before the next commit: no wait of the worker's own
                web.join(5)

    try:
        asyncio.run(commits())
    finally:
        store.close_sync()
        for web in webs:
            web.join(5)
        for fd in (web_lock, web_want, probe):
            os.close(fd)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == streak
    assert (gaps[-1] >= 2.0) if pauses else (max(gaps) < 1.0)
