"""A per-process memory of looked-up links, so a redirect costs no extra storage round trip.

Entries live `ttl` seconds (unknown slugs too, so a flood of made-up slugs does not reach the
database); the admin API drops an entry when it edits the link in this process, other
processes (replicas) see the edit within `ttl`.

An expired entry is still better than no answer: when refreshing it fails, or takes longer
than `wait` (another process holding SQLite's write lock, which reads queue behind), the
person is sent where the link pointed a moment ago, and the old entry serves `ttl` more
seconds before the next try. Only a slug never looked up needs the database to answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from connector.storage.base import Store
from connector.storage.link_records import TriggerLink

MAX_ENTRIES = 10_000
# A lookup is one indexed read; this long means it queued behind a write lock held elsewhere.
LOOKUP_WAIT_SECONDS = 1.0
log = structlog.get_logger("connector.links")


class LinkCache:
    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        wait: float = LOOKUP_WAIT_SECONDS,
    ) -> None:
        self.ttl = ttl
        self.wait = wait
        self._clock = clock
        self._entries: dict[str, tuple[float, TriggerLink | None]] = {}

    async def get(self, store: Store, slug: str) -> TriggerLink | None:
        """The link (None: no such slug); raises what the store raises (TimeoutError after
        `wait`) when it cannot answer and the slug was never looked up."""
        now = self._clock()
        entry = self._entries.get(slug)
        if entry is not None and entry[0] > now:
            return entry[1]
        try:
            async with asyncio.timeout(self.wait):
                link = await store.transaction(lambda tx: tx.link(slug), durable=False)
        except Exception as error:
            if entry is None:
                raise
            log.warning("link.lookup", slug=slug, outcome="stale", error=type(error).__name__)
            self._entries[slug] = (now + self.ttl, entry[1])
            return entry[1]
        if self.ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[slug] = (now + self.ttl, link)
        return link

    def invalidate(self, slug: str | None = None) -> None:
        """Forget one slug (after an edit), or everything."""
        if slug is None:
            self._entries.clear()
        else:
            self._entries.pop(slug, None)
