"""A routing pass claims the deliveries it queued and starts them itself (no extra commit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest

from connector.config import parse_settings
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.storage.base import EventRecord, IngestBatch
from connector.storage.sqlite import SqliteStore
from providers.customerio import parse
from tests.support.fixtures import cases

CLICK = next(c for c in cases("customerio") if c.name == "click")


def _click() -> EventRecord:
    event = parse(CLICK.request(), CLICK.source()).events[0].event
    payload = orjson.dumps(event.model_dump(mode="json"))
    return EventRecord(event.id, event.type, "cio", "customerio", 1.0, 2.0, payload, b"{}")


@pytest.mark.parametrize(
    ("busy", "expected"),
    [("idle", [("delivered", 1)]), ("claiming", [("pending", 0)]), ("in-flight", [("pending", 0)])],
)
def test_a_routed_click_is_sent_by_the_routing_pass(
    tmp_path: Path, busy: str, expected: list[tuple[str, int]]
) -> None:
    """With nothing in flight, the routing pass's claim sends the click without a
    delivery-loop pass; while the delivery loop is claiming, or attempts are in flight (under
    load), routing leaves it unclaimed for that loop, and wakes it."""
    db = tmp_path / "route.db"
    settings = parse_settings(
        {
            "storage": {"url": f"sqlite:///{db}"},
            "rules": [{"id": "every", "actions": ["log"]}],
            "actions": [{"id": "log", "type": "log"}],
        },
        {},
    )
    store = SqliteStore(db)

    async def scenario() -> tuple[list[tuple[str, int]], bool]:
        await store.open()
        store.transaction_sync(lambda tx: tx.ingest(IngestBatch("cio", 2.0, [_click()])))
        async with httpx.AsyncClient() as client:
            pipeline = build_pipeline(settings, store, Metrics(), client)
            gate = asyncio.Event()

            async def in_flight() -> None:
                await gate.wait()

            if busy == "in-flight":
                pipeline._outflow.start("elsewhere", in_flight)
            if busy == "claiming":
                async with pipeline._claiming:
                    await pipeline.route_once()
            else:
                await pipeline.route_once()
            gate.set()
            await pipeline._outflow.wait(lambda: False, 5)  # the attempt runs on its own
            woken = pipeline._outbox.is_set()
            await pipeline.stop()  # records what finished
        rows = store.transaction_sync(lambda tx: tx.list_deliveries(None, 10))
        await store.close()
        return [(row.status, row.attempts) for row in rows], woken

    statuses, woken = asyncio.run(scenario())
    assert statuses == expected
    assert woken  # to record the outcome, or to claim what routing left
