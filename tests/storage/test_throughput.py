"""Many concurrent callers: every ingest is answered and stored; prints the rate per backend.

2,000 `store.transaction(lambda tx: tx.ingest(...))` at once, as a burst of webhooks would
make them. Asserts correctness only (rates vary with the machine; bench/ holds the figures).
"""

from __future__ import annotations

import asyncio
import time

from connector.storage.base import EventRecord, IngestBatch
from tests.storage.conftest import Store
from tests.storage.test_contract import run

CALLERS = 2000
PAYLOAD = b'{"type": "email.clicked", "pad": "' + b"x" * 700 + b'"}'


def _batch(n: int) -> IngestBatch:
    record = EventRecord(f"e{n}", "email.clicked", "s", "p", 1.0, 2.0, PAYLOAD, PAYLOAD)
    return IngestBatch("s", 2.0, [record])


def test_a_burst_of_concurrent_ingests_is_all_stored(store: Store) -> None:
    """Every one of 2,000 concurrent ingest transactions commits its event exactly once."""

    async def burst() -> tuple[list[list[str]], float]:
        started = time.perf_counter()
        outcomes = await asyncio.gather(
            *(store.transaction(lambda tx, n=n: tx.ingest(_batch(n))) for n in range(CALLERS))
        )
        return [o.new for o in outcomes], time.perf_counter() - started

    news, seconds = asyncio.run(burst())
    print(f"\n{type(store).__name__}: {CALLERS / seconds:,.0f} ingest transactions/s")
    assert news == [[f"e{n}"] for n in range(CALLERS)]
    stored = run(store, lambda tx: tx.list_events(limit=CALLERS + 1))
    assert len(stored) == CALLERS
