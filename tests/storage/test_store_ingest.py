"""`Store.ingest`: concurrent ingests (which PostgreSQL merges into one INSERT per commit)
each get the outcome they would get alone, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

from connector.storage.base import IngestBatch, IngestOutcome, RejectedItem
from tests.scenarios.support import T0, event


def test_concurrent_plain_ingests_get_their_own_outcomes(store: Any) -> None:
    """Events only (PostgreSQL: one autocommitted INSERT for all): duplicates of a stored
    event, across requests and within one are told apart as if each request were alone."""
    a, b, c, d = (event("email.clicked", p, T0) for p in ("ann", "bob", "cat", "dan"))
    batches = [
        IngestBatch("esp", T0, [a, b]),  # a was stored before
        IngestBatch("esp", T0, [b, c]),  # b again, in the same commit
        IngestBatch("esp", T0, [d, d]),  # d twice in one request
    ]

    async def together() -> list[IngestOutcome]:
        await store.open()
        await store.ingest(IngestBatch("esp", T0, [a]))
        return list(await asyncio.gather(*(store.ingest(batch) for batch in batches)))

    outcomes = asyncio.run(together())
    assert [(o.new, o.duplicates) for o in outcomes] == [
        ([b.id], [a.id]),
        ([c.id], [b.id]),
        ([d.id], [d.id]),
    ]
    stored = store.transaction_sync(lambda tx: tx.list_events(limit=10))
    assert sorted(e["event"]["id"] for e in stored) == sorted([a.id, b.id, c.id, d.id])


def test_concurrent_ingests_get_their_own_outcomes(store: Any) -> None:
    """Duplicates across and within requests, a nonce, rejections: as if each were alone."""
    a, b, c = (event("email.clicked", p, T0) for p in ("ann", "bob", "cat"))
    batches = [
        IngestBatch("esp", T0, [a, b]),
        IngestBatch("esp", T0, [b, c]),  # b again, in the same commit
        IngestBatch("esp", T0, [c], rejected=[RejectedItem(1, "bad", b"{}")]),
        IngestBatch("esp", T0, [a], nonce="n1", body_digest="d"),
    ]

    async def together() -> list[IngestOutcome]:
        await store.open()
        return list(await asyncio.gather(*(store.ingest(batch) for batch in batches)))

    outcomes = asyncio.run(together())
    assert outcomes[0].new == [a.id, b.id] and outcomes[0].duplicates == []
    assert outcomes[1].new == [c.id] and outcomes[1].duplicates == [b.id]
    assert outcomes[2].new == [] and outcomes[2].duplicates == [c.id]
    assert outcomes[3].duplicates == [a.id] and not outcomes[3].replayed_nonce
    stored = store.transaction_sync(lambda tx: tx.list_events(limit=10))
    assert sorted(e["event"]["id"] for e in stored) == sorted([a.id, b.id, c.id])
    forged = IngestBatch(
        "esp", T0, [event("email.clicked", "dan", T0)], nonce="n1", body_digest="x"
    )
    assert asyncio.run(store.ingest(forged)).replayed_nonce
