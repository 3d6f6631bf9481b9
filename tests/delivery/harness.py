"""The real delivery loop over a SQLite outbox, for tests that drive deliveries end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from connector.config import parse_settings
from connector.delivery.client import make_client
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.pipeline.worker import Pipeline
from connector.storage.base import NewDelivery
from connector.storage.sqlite import SqliteStore


@asynccontextmanager
async def running_worker(
    folder: Path, delivery: dict[str, Any], actions: dict[str, int], rows: list[NewDelivery]
) -> AsyncIterator[Pipeline]:
    """A started pipeline whose outbox holds `rows`, with one http action per `actions` entry
    (id -> port of a receiver on 127.0.0.1); stopped, and its store closed, on exit."""
    database = folder / "outbox.db"
    settings = parse_settings(
        {
            "storage": {"url": f"sqlite:///{database}"},
            "delivery": {"allow_networks": ["127.0.0.0/8"], **delivery},
            "actions": [
                {"id": action, "type": "http", "url": f"http://127.0.0.1:{port}/"}
                for action, port in actions.items()
            ],
        },
        {},
    )
    store = SqliteStore(database)
    await store.open()
    try:
        await store.transaction(lambda tx: tx.add_deliveries(rows))
        async with make_client(settings.delivery) as client:
            pipeline = build_pipeline(settings, store, Metrics(), client)
            pipeline.start()
            try:
                yield pipeline
            finally:
                await pipeline.stop()
    finally:
        await store.close()
