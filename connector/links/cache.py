"""A per-process memory of looked-up links, so a redirect costs no extra storage round trip.

Entries live `ttl` seconds (unknown slugs too, so a flood of made-up slugs does not reach the
database); the admin API drops an entry when it edits the link in this process, other
processes (replicas) see the edit within `ttl`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connector.storage.base import Store
from connector.storage.link_records import TriggerLink

MAX_ENTRIES = 10_000


class LinkCache:
    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, TriggerLink | None]] = {}

    async def get(self, store: Store, slug: str) -> TriggerLink | None:
        """The link (None: no such slug); raises what the store raises when it is down."""
        now = self._clock()
        entry = self._entries.get(slug)
        if entry is not None and entry[0] > now:
            return entry[1]
        link = await store.transaction(lambda tx: tx.link(slug), durable=False)
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
