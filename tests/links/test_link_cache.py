"""The link cache answers from an expired entry when storage cannot answer in time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from connector.errors import StorageUnavailable
from connector.links.cache import LinkCache
from connector.storage.link_records import TriggerLink

SPRING = TriggerLink("spring", "Spring", "https://shop.example/spring")


class Storage:
    """Answers `tx.link` from `links`, or hangs (a write lock held elsewhere), or fails."""

    def __init__(self) -> None:
        self.links = {"spring": SPRING}
        self.state = "up"  # up | stuck | down
        self.lookups = 0

    async def transaction(self, fn: Callable[[Any], Any], durable: bool = True) -> Any:
        self.lookups += 1
        if self.state == "stuck":
            await asyncio.Event().wait()
        if self.state == "down":
            raise StorageUnavailable("down")
        return fn(self)

    def link(self, slug: str) -> TriggerLink | None:
        return self.links.get(slug)


@pytest.mark.parametrize("state", ["stuck", "down"])
def test_an_expired_link_is_served_while_storage_cannot_answer(state: str) -> None:
    """Expired, then storage stuck or down: the old entry answers (within `wait`), and serves
    `ttl` more seconds before the database is asked again; a slug never seen raises."""
    now = [0.0]
    cache = LinkCache(5.0, clock=lambda: now[0], wait=0.05)
    storage = Storage()

    async def main() -> None:
        assert await cache.get(storage, "spring") == SPRING  # type: ignore[arg-type]
        now[0] = 6.0  # expired
        storage.state = state
        storage.links["spring"] = TriggerLink("spring", "Spring", "https://shop.example/new")
        async with asyncio.timeout(2):
            assert await cache.get(storage, "spring") == SPRING  # type: ignore[arg-type]
            assert await cache.get(storage, "spring") == SPRING  # type: ignore[arg-type]
        assert storage.lookups == 2  # the second answer came from the renewed entry
        with pytest.raises((TimeoutError, StorageUnavailable)):
            await cache.get(storage, "autumn")  # type: ignore[arg-type]
        storage.state = "up"
        now[0] = 12.0  # the stale entry's extra life is over: the edit is seen
        new = await cache.get(storage, "spring")  # type: ignore[arg-type]
        assert new is not None and new.destination == "https://shop.example/new"

    asyncio.run(main())
