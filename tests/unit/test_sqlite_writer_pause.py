"""The event loop lends an idle writer the core until its COMMIT starts, and no longer."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from pathlib import Path

import pytest

from connector.storage import sqlite_writer
from connector.storage.sqlite import SqliteStore

SLOW_INSERTS = 0.3  # seconds a job takes: far longer than a loop turn without a pause


def _inserts_done_before_next_callback(
    store: SqliteStore, *, durable: bool, hold_lock: Path | None = None
) -> bool:
    """Hand one slow job to the writer; whether it had finished when the loop's next
    callback ran (that callback also lets go of the lock file, if the test held it)."""
    done = threading.Event()

    def slow(tx: object) -> None:
        time.sleep(SLOW_INSERTS)
        done.set()

    async def scenario() -> bool:
        seen: list[bool] = []
        lock = os.open(hold_lock, os.O_RDWR) if hold_lock else -1
        if hold_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # as the worker process would

        def next_callback() -> None:
            seen.append(done.is_set())
            if hold_lock:
                fcntl.flock(lock, fcntl.LOCK_UN)
                os.close(lock)

        job = asyncio.ensure_future(store.transaction(slow, durable=durable))
        await asyncio.sleep(0)  # the job waits for this turn's hand-over, queued first
        asyncio.get_running_loop().call_soon(next_callback)
        await job
        return seen[0]

    return asyncio.run(scenario())


@pytest.mark.parametrize(
    ("durable", "max_pause", "finished"),
    [
        (True, 30.0, True),  # the loop waits for the writer's COMMIT
        (False, 30.0, False),  # background bookkeeping never pauses the loop
        (True, 0.01, False),  # and never longer than the bound
    ],
)
def test_handing_work_to_an_idle_writer_pauses_the_loop_until_its_commit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    durable: bool,
    max_pause: float,
    finished: bool,
) -> None:
    """Durable work pauses the loop until the inserts are done (its COMMIT's fsync then
    overlaps the loop's work); background work does not; the bound holds."""
    monkeypatch.setattr(sqlite_writer, "MAX_PAUSE_SECONDS", max_pause)
    store = SqliteStore(tmp_path / "p.db")
    store.open_sync()
    try:
        assert _inserts_done_before_next_callback(store, durable=durable) is finished
    finally:
        store.close_sync()


def test_a_writer_waiting_for_the_other_process_lets_the_loop_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the lock file the loop is not kept waiting: its next
    callback (which lets the lock go here) runs before the job, long before the bound."""
    monkeypatch.setattr(sqlite_writer, "MAX_PAUSE_SECONDS", 30.0)
    store = SqliteStore(tmp_path / "l.db")
    store.open_sync()
    started = time.monotonic()
    try:
        lock = tmp_path / "l.db.lock"
        assert _inserts_done_before_next_callback(store, durable=True, hold_lock=lock) is False
    finally:
        store.close_sync()
    assert time.monotonic() - started < 15.0  # a paused loop would have waited the 30 s
