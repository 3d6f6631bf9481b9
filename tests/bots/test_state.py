"""Both state implementations answer the same queries the same way, and expire by TTL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.bots.state import BotState, ClickRecord, MemoryState
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState


def _click(event_id: str, occurred: float, *, received: float | None = None, ip: str = "192.0.2.1",
           recipient: str = "a", message: str = "m", link: str = "p0") -> ClickRecord:  # fmt: skip
    return ClickRecord(event_id, message, link, recipient, ip, "192.0.2.0/24", occurred,
                       occurred + 1 if received is None else received, 0)  # fmt: skip


@pytest.fixture(params=["memory", "sqlite"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BotState]:
    if request.param == "memory":
        yield MemoryState(ttl_seconds=100)
        return
    conn = sqlite3.connect(tmp_path / "bots.db")
    conn.executescript(SQLITE_SCHEMA)
    yield SqliteState(conn, ttl_seconds=100)
    conn.close()


def test_delivery_is_the_earliest_that_had_arrived(state: BotState) -> None:
    """The delivery lookup returns the earliest delivery received by the given time."""
    state.record_delivery("m", occurred=10, received=50)
    state.record_delivery("m", occurred=20, received=21)
    state.record_delivery("m", occurred=20, received=21)  # repeated webhook
    assert state.delivery("m", received_by=30) == (20, 21)
    assert state.delivery("m", received_by=60) == (10, 50)
    assert state.delivery("m", received_by=5) is None
    assert state.delivery("other", received_by=60) is None


def test_message_clicks_window_order_and_arrival(state: BotState) -> None:
    """Clicks come back ordered, inside the time window, and only once they had arrived."""
    for click in (_click("b", 5), _click("a", 5), _click("c", 9, received=40), _click("d", 30)):
        state.record_click(click)
    state.record_click(_click("a", 5))  # a repeated event is stored once
    assert [c.event_id for c in state.message_clicks("m", 0, 10, received_by=20)] == ["a", "b"]
    assert [c.event_id for c in state.message_clicks("m", 0, 10, received_by=40)] == ["a", "b", "c"]
    assert state.message_clicks("m", 31, 60, received_by=100) == []


def test_ip_recipients_counts_distinct_people(state: BotState) -> None:
    """Distinct recipients per address in a window; repeats of one person count once."""
    for n, recipient in enumerate(["a", "a", "b", "c"]):
        state.record_click(_click(f"x{n}", 10 + n, recipient=recipient, message=f"m{n}"))
    state.record_click(_click("y", 11, recipient="d", ip="192.0.2.2"))
    assert state.ip_recipients("192.0.2.1", 0, 20, received_by=100) == 3
    assert state.ip_recipients("192.0.2.1", 12, 20, received_by=100) == 2
    assert state.ip_recipients("192.0.2.1", 0, 20, received_by=11.5) == 1
    assert state.ip_recipients("198.51.100.1", 0, 20, received_by=100) == 0


def test_prune_forgets_rows_older_than_the_ttl(state: BotState) -> None:
    """prune(now) removes deliveries and clicks that arrived more than the TTL ago."""
    state.record_delivery("m", occurred=0, received=1)
    state.record_delivery("n", occurred=150, received=151)
    state.record_click(_click("old", 0))
    state.record_click(_click("new", 150))
    assert state.prune(now=200) == 2
    assert state.delivery("m", received_by=1000) is None
    assert state.delivery("n", received_by=1000) is not None
    assert [c.event_id for c in state.message_clicks("m", 0, 1000, 1000)] == ["new"]
    assert state.ip_recipients("192.0.2.1", 0, 1000, 1000) == 1
    assert state.prune(now=200) == 0


def test_sqlite_state_leaves_the_transaction_to_the_caller(tmp_path: Path) -> None:
    """SqliteState never commits: another connection sees nothing until the caller commits."""
    path = tmp_path / "bots.db"
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_SCHEMA)
    SqliteState(conn).record_click(_click("a", 1))
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM bot_clicks").fetchone() == (0,)
    assert conn.in_transaction
    conn.commit()
    assert other.execute("SELECT COUNT(*) FROM bot_clicks").fetchone() == (1,)
    conn.close()
    other.close()


def test_schema_is_idempotent(tmp_path: Path) -> None:
    """Running the schema at every start-up is safe, keeps the change count and prefixes every
    table and trigger with bot_."""
    conn = sqlite3.connect(tmp_path / "bots.db")
    conn.executescript(SQLITE_SCHEMA)
    SqliteState(conn).record_delivery("m", 1, 2)
    conn.commit()
    conn.executescript(SQLITE_SCHEMA)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"bot_clicks", "bot_deliveries", "bot_version"}
    triggers = [
        row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
    ]
    assert len(triggers) == 6 and all(name.startswith("bot_") for name in triggers)
    assert conn.execute("SELECT id, version FROM bot_version").fetchall() == [(1, 1)]
    conn.close()
