"""The delivery loop records a batch's outcomes with the next claim, and at stop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from connector.config import parse_settings
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.storage.base import NewDelivery
from connector.storage.sqlite import SqliteStore


def test_outcomes_are_recorded_by_the_next_claim_or_at_stop(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'loop.db'}"},
            "actions": [{"id": "log", "type": "log"}],
        },
        {},
    )
    store = SqliteStore(tmp_path / "loop.db")

    def statuses() -> list[tuple[str, str, int]]:
        rows = store.transaction_sync(lambda tx: tx.list_deliveries(None, 10))
        return sorted((row.id, row.status, row.attempts) for row in rows)

    def add(delivery_id: str) -> None:
        new = NewDelivery(delivery_id, "evt_1", "log", ["r"], b'{"id": "evt_1"}', 0.0)
        store.transaction_sync(lambda tx: tx.add_deliveries([new]))

    async def scenario() -> list[list[tuple[str, str, int]]]:
        await store.open()
        async with httpx.AsyncClient() as client:
            pipeline = build_pipeline(settings, store, Metrics(), client)
            seen = []
            add("d1")
            assert await pipeline.deliver_once() == 1  # claimed and attempted
            seen.append(await asyncio.to_thread(statuses))  # leased, outcome not yet stored
            add("d2")
            assert await pipeline.deliver_once() == 1  # records d1, claims d2
            seen.append(await asyncio.to_thread(statuses))
            await pipeline.stop()  # records d2
            seen.append(await asyncio.to_thread(statuses))
        await store.close()
        return seen

    before, between, after = asyncio.run(scenario())
    assert before == [("d1", "pending", 0)]
    assert between == [("d1", "delivered", 1), ("d2", "pending", 0)]
    assert after == [("d1", "delivered", 1), ("d2", "delivered", 1)]
