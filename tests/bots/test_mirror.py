"""SqliteState's in-process mirror: exact across restarts, other writers, rollbacks, eviction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from math import inf
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.bots import mirror
from connector.bots.state import BotState, ClickRecord, MemoryState
from connector.storage import sqlite_bot_mirrors as mirrors
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState


def _click(
    event_id: str,
    occurred: float,
    *,
    message: str = "m",
    ip: str = "192.0.2.1",
    recipient: str = "a",
    link: str = "p0",
    received: float | None = None,
) -> ClickRecord:
    arrived = occurred + 1 if received is None else received
    return ClickRecord(event_id, message, link, recipient, ip, "192.0.2.0/24", occurred, arrived, 0)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection like the service's writer: WAL, explicit transactions."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SQLITE_SCHEMA)
    return conn


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "bots.db"


@pytest.fixture
def conn(path: Path) -> Iterator[sqlite3.Connection]:
    connection = _connect(path)
    yield connection
    connection.close()


def _ids(state: BotState, message: str = "m") -> list[str]:
    return [c.event_id for c in state.message_clicks(message, 0, 1e9, 1e9)]


def test_rows_written_before_a_restart_are_read_on_first_use(path: Path) -> None:
    """A new connection (a restarted process) sees every row the database already holds."""
    first = _connect(path)
    state = SqliteState(first)
    state.record_delivery("m", 5, 6)
    state.record_click(_click("a", 10))
    state.record_click(_click("b", 11, recipient="b", message="n"))
    first.close()
    second = _connect(path)
    again = SqliteState(second)
    assert again.delivery("m", received_by=100) == (5, 6)
    assert _ids(again) == ["a"]
    assert again.ip_recipients("192.0.2.1", 0, 100, 100) == 2
    again.record_click(_click("c", 12))
    assert _ids(again) == ["a", "c"]
    second.close()


def test_another_connections_commit_is_seen_by_the_next_transaction(path: Path) -> None:
    """Rows another process commits for a message or address we hold are not missed."""
    ours, theirs = _connect(path), _connect(path)
    SqliteState(ours).record_click(_click("a", 10))
    assert _ids(SqliteState(ours)) == ["a"]
    theirs.execute("BEGIN IMMEDIATE")
    SqliteState(theirs).record_click(_click("b", 11, recipient="b"))
    SqliteState(theirs).record_delivery("m", 1, 2)
    theirs.execute("COMMIT")
    state = SqliteState(ours)
    assert _ids(state) == ["a", "b"]
    assert state.delivery("m", 100) == (1, 2)
    assert state.ip_recipients("192.0.2.1", 0, 100, 100) == 2
    ours.close()
    theirs.close()


def _insert(conn: sqlite3.Connection, click: ClickRecord) -> None:
    """Raw SQL, as another process or an older version of this one might write it."""
    conn.execute("INSERT INTO bot_clicks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", click)


def test_commits_to_other_tables_keep_the_mirror(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest process's steady commits to `events` are no bot evidence: nothing is
    rebuilt, cleared or read again."""
    ours, theirs = _connect(path), _connect(path)
    state = SqliteState(ours)
    state.record_delivery("m", 1, 2)
    state.record_click(_click("a", 10))
    rebuilt: list[object] = []
    monkeypatch.setattr(mirrors, "_rebuild", lambda conn, mirror: rebuilt.append(mirror))
    theirs.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    # (a mirror keyed by a recycled id(conn) may carry an old time: compare, not assume -inf)
    seen_foreign = mirrors._MIRRORS[id(ours)].last_foreign
    statements: list[str] = []
    ours.set_trace_callback(statements.append)
    for number in range(5):
        theirs.execute("BEGIN IMMEDIATE")
        theirs.execute("INSERT INTO events (body) VALUES (?)", (f"event {number}",))
        theirs.execute("COMMIT")
        again = SqliteState(ours)
        assert again.delivery("m", 100) == (1, 2)
        assert _ids(again) == ["a"]
        assert again.ip_recipients("192.0.2.1", 0, 100, 100) == 1
    ours.set_trace_callback(None)
    reads = [s for s in statements if s.startswith("SELECT") and "bot_version" not in s]
    assert reads == []  # no key read again, no scan
    assert rebuilt == []
    assert mirrors._MIRRORS[id(ours)].last_foreign == seen_foreign
    ours.close()
    theirs.close()


def test_our_own_writes_and_prunes_keep_the_mirror(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each row our statements change is counted (repeats change none), so our own writes
    never look like another writer's."""
    SqliteState(conn, ttl_seconds=100).record_click(_click("old", 0))  # built here
    rebuilt: list[object] = []
    monkeypatch.setattr(mirrors, "_rebuild", lambda conn, mirror: rebuilt.append(mirror))
    for number in range(3):
        state = SqliteState(conn, ttl_seconds=100)
        for _ in range(2):  # the repeat inserts nothing
            state.record_click(_click(f"c{number}", 200 + number))
            state.record_delivery("m", number, 50 + number)
        assert state.prune(now=151 + number) == 1 + (number == 0)  # the delivery, "old"
    state = SqliteState(conn, ttl_seconds=100)
    assert _ids(state) == ["c0", "c1", "c2"]
    assert state.delivery("m", 1000) is None
    assert rebuilt == []
    assert mirrors._MIRRORS[id(conn)].last_foreign == -inf


def test_raw_sql_from_another_connection_is_seen(path: Path) -> None:
    """Rows another writer inserts, updates or deletes without SqliteState are not missed,
    the first time (a rebuild) nor soon after (keys read afresh on first use)."""
    ours, theirs = _connect(path), _connect(path)
    SqliteState(ours).record_click(_click("a", 10))
    assert _ids(SqliteState(ours)) == ["a"]
    _insert(theirs, _click("b", 11, recipient="b"))
    state = SqliteState(ours)
    assert _ids(state) == ["a", "b"]
    assert state.ip_recipients("192.0.2.1", 0, 100, 100) == 2
    theirs.execute("UPDATE bot_clicks SET received = 50 WHERE event_id = 'b'")
    assert [c.received for c in SqliteState(ours).message_clicks("m", 0, 100, 100)] == [11, 50]
    theirs.execute("DELETE FROM bot_clicks WHERE event_id = 'a'")
    assert _ids(SqliteState(ours)) == ["b"]
    ours.close()
    theirs.close()


def test_a_rollback_is_seen_when_foreign_rows_restore_the_count(path: Path) -> None:
    """Our rolled-back row plus another writer's row leave the change count where we expect
    it: the marker still tells the mirror is stale."""
    ours, theirs = _connect(path), _connect(path)
    SqliteState(ours).record_click(_click("kept", 5))
    ours.execute("BEGIN IMMEDIATE")
    state = SqliteState(ours)
    state.record_click(_click("undone", 10))
    assert _ids(state) == ["kept", "undone"]
    ours.execute("ROLLBACK")
    _insert(theirs, _click("theirs", 11, recipient="b"))
    assert _ids(SqliteState(ours)) == ["kept", "theirs"]
    ours.close()
    theirs.close()


def test_a_database_without_the_change_count_is_read_exactly(path: Path) -> None:
    """A database whose bot schema predates `bot_version` counts as written by others at
    every check: slower, never wrong."""
    ours = _connect(path)
    for (trigger,) in ours.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        ours.execute(f"DROP TRIGGER {trigger}")
    ours.execute("DROP TABLE bot_version")
    theirs = sqlite3.connect(path, isolation_level=None)
    for number in range(3):
        SqliteState(ours).record_click(_click(f"ours{number}", 10 + 2 * number))
        _insert(theirs, _click(f"theirs{number}", 11 + 2 * number, recipient="b"))
        state = SqliteState(ours)
        assert len(_ids(state)) == 2 * number + 2
        assert state.ip_recipients("192.0.2.1", 0, 100, 100) == 2
    ours.close()
    theirs.close()


@pytest.mark.parametrize("undo", ["ROLLBACK", "ROLLBACK TO job"])
def test_rolled_back_writes_are_forgotten(conn: sqlite3.Connection, undo: str) -> None:
    """A rolled-back transaction or savepoint takes its rows out of the mirror too."""
    SqliteState(conn).record_click(_click("kept", 5))
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("SAVEPOINT job")
    state = SqliteState(conn)
    state.record_click(_click("undone", 10))
    state.record_delivery("m", 1, 2)
    assert _ids(state) == ["kept", "undone"]
    conn.execute(undo)
    if undo != "ROLLBACK":
        conn.execute("RELEASE job")
        conn.execute("COMMIT")
    after = SqliteState(conn)
    assert _ids(after) == ["kept"]
    assert after.delivery("m", 100) is None
    assert after.ip_recipients("192.0.2.1", 0, 100, 100) == 1


def test_fresh_databases_never_share_a_mirror() -> None:
    """Connections created one after another (ids get reused) each see only their own rows."""
    for number in range(20):
        conn = sqlite3.connect(":memory:")
        conn.executescript(SQLITE_SCHEMA)
        state = SqliteState(conn)
        assert _ids(state) == []
        state.record_click(_click(f"c{number}", number))
        assert _ids(SqliteState(conn)) == [f"c{number}"]
        conn.close()


def test_a_warm_mirror_answers_without_reading(conn: sqlite3.Connection) -> None:
    """Once a key is known, the detector's three queries run no SQL at all (the point)."""
    statements: list[str] = []
    state = SqliteState(conn)
    state.record_delivery("m", 1, 2)
    state.record_click(_click("a", 10))
    conn.set_trace_callback(statements.append)
    again = SqliteState(conn)  # a later transaction
    again.record_click(_click("b", 11, message="new", ip="198.51.100.7"))  # new keys: no reads
    for _ in range(3):
        again.delivery("m", 100)
        again.message_clicks("m", 0, 100, 100)
        again.ip_recipients("192.0.2.1", 0, 100, 100)
        again.message_clicks("new", 0, 100, 100)
    conn.set_trace_callback(None)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "FROM bot_version" in reads[0]  # the change count, once
    # One INSERT (Python traces its trigger's steps as the same statement again).
    assert len({s for s in statements if s.startswith("INSERT OR FAIL INTO bot_clicks")}) == 1


def test_snapshots_change_exactly_when_the_rows_do(conn: sqlite3.Connection) -> None:
    """Equal snapshots mean unchanged rows; any write or prune to the keys changes them."""
    memory = MemoryState(ttl_seconds=100)
    for state in (memory, SqliteState(conn, ttl_seconds=100)):
        state.record_click(_click("a", 10))
        before = state.snapshot("m", "192.0.2.1")
        assert before is not None and before.newest == 11
        state.record_click(_click("other", 10, message="n", ip="198.51.100.7"))
        assert state.snapshot("m", "192.0.2.1") == before
        state.record_click(_click("b", 12, message="n"))  # same address, other message
        moved = state.snapshot("m", "192.0.2.1")
        assert moved != before and moved is not None and moved.newest == 13
        state.record_delivery("m", 1, 2)
        assert state.snapshot("m", "192.0.2.1") != moved
        settled = state.snapshot("m", "192.0.2.1")
        state.prune(now=100)  # drops what arrived before 0: nothing
        assert state.snapshot("m", "192.0.2.1") == settled
        state.prune(now=200)
        assert state.snapshot("m", "192.0.2.1") != settled


def test_sqlite_snapshot_is_unknown_for_keys_not_mirrored(path: Path) -> None:
    """After a restart a key not read yet has no snapshot (None), never a wrong one."""
    first = _connect(path)
    SqliteState(first).record_click(_click("a", 10))
    first.close()
    second = _connect(path)
    state = SqliteState(second)
    assert state.snapshot("m", "192.0.2.1") is None
    assert _ids(state) == ["a"]
    assert state.snapshot("m", "198.51.100.9") is not None  # never seen: known to be empty
    second.close()


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("click"),
            st.integers(0, 30),
            st.sampled_from("mnop"),
            st.sampled_from(["192.0.2.1", "192.0.2.2", ""]),
            st.sampled_from("abc"),
            st.integers(0, 3),
        ),
        st.tuples(st.just("delivery"), st.integers(0, 30), st.sampled_from("mnop")),
        st.tuples(st.just("prune"), st.integers(0, 60)),
        st.tuples(st.just("commit")),
        st.tuples(st.just("reconnect")),
        st.tuples(st.just("foreign"), st.integers(0, 30), st.sampled_from("mnop")),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(operations, st.sampled_from([0, 2, 1000]), st.sampled_from([4, 1_000_000]))
def test_a_small_mirror_answers_like_memory(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[Any, ...]],
    scan_limit: int,
    max_present: int,
) -> None:
    """With room for 3 rows the mirror evicts (folding evicted keys into its hashes, or
    giving up completeness past `max_present`), reloads and resets, and still answers
    exactly; so it does when the database is too big to scan (every key read on first use)."""
    path = tmp_path_factory.mktemp("mirror") / "bots.db"
    memory = MemoryState(ttl_seconds=20)
    conn = _connect(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mirrors, "MIRROR_ROWS", 3)
        patch.setattr(mirrors, "PRESENCE_LIMIT", scan_limit)
        patch.setattr(mirror, "MAX_PRESENT", max_present)
        stored = SqliteState(conn, ttl_seconds=20)
        for number, step in enumerate(steps):
            stored, conn = _apply(step, number, memory, stored, conn, path)
            _same_answers(memory, stored)
    conn.close()


def _apply(
    step: tuple[Any, ...],
    number: int,
    memory: MemoryState,
    stored: SqliteState,
    conn: sqlite3.Connection,
    path: Path,
) -> tuple[SqliteState, sqlite3.Connection]:
    kind = step[0]
    if kind == "click":
        _, at, message, ip, recipient, late = step
        click = _click(
            f"e{number}", at, message=message, ip=ip, recipient=recipient, received=at + late
        )
        memory.record_click(click)
        stored.record_click(click)
    elif kind == "delivery":
        _, at, message = step
        memory.record_delivery(message, at, at + 1)
        stored.record_delivery(message, at, at + 1)
    elif kind == "prune":
        assert memory.prune(step[1]) == stored.prune(step[1])
    elif kind == "commit":
        stored = SqliteState(conn, ttl_seconds=20)
    elif kind == "reconnect":
        conn.close()
        conn = _connect(path)
        stored = SqliteState(conn, ttl_seconds=20)
    else:  # another process records the same evidence we do (both stores must see it)
        _, at, message = step
        other = _connect(path)
        SqliteState(other).record_delivery(message, at, at + 2)
        other.close()
        memory.record_delivery(message, at, at + 2)
        stored = SqliteState(conn, ttl_seconds=20)
    return stored, conn


def _same_answers(memory: MemoryState, stored: SqliteState) -> None:
    for message in "mnop":
        assert memory.delivery(message, 25) == stored.delivery(message, 25)
        for received_by in (10.0, 40.0):
            assert memory.message_clicks(message, 5, 25, received_by) == stored.message_clicks(
                message, 5, 25, received_by
            )
    for ip in ("192.0.2.1", "192.0.2.2"):
        assert memory.ip_recipients(ip, 0, 20, 40) == stored.ip_recipients(ip, 0, 20, 40)
