"""`Store.watch`: a worker learns of events any process stores (PostgreSQL `LISTEN`), and a
backend without such a signal (SQLite) says so at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector.storage.base import IngestBatch
from connector.storage.postgres import PgStore
from connector.storage.sqlite import SqliteStore
from tests.storage.test_contract import event


def test_a_listener_wakes_when_another_process_stores_new_events(pg_url: str) -> None:
    """Two stores on one database, as a web replica and a worker of its own are."""
    web, worker = PgStore(pg_url), PgStore(pg_url)

    async def scenario() -> tuple[int, int]:
        woken = asyncio.Event()
        wakes = 0

        def wake() -> None:
            nonlocal wakes
            wakes += 1
            woken.set()

        watching = asyncio.create_task(worker.watch(wake))
        try:
            await asyncio.wait_for(woken.wait(), 10)  # once on (re)connecting
            first = wakes
            woken.clear()
            await web.ingest(IngestBatch("cio", 1.0, [event("notified-1")]))
            await asyncio.wait_for(woken.wait(), 10)
            return first, wakes
        finally:
            watching.cancel()
            await web.close()
            await worker.close()

    web.open_sync()
    worker.open_sync()
    first, total = asyncio.run(scenario())
    assert first == 1
    assert total >= 2


def test_sqlite_has_nothing_to_watch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    calls: list[None] = []
    asyncio.run(asyncio.wait_for(store.watch(lambda: calls.append(None)), 1))
    assert calls == []
