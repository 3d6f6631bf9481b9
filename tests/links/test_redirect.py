"""The redirect endpoint when storage fails: the person is still sent on, nothing is a 500."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.errors import StorageUnavailable
from connector.links.cache import LinkCache
from connector.links.redirect import LinkContext, redirect
from connector.storage.link_records import TriggerLink

LINK = TriggerLink(slug="s", name="S", destination="https://x.example/{query.p}")


class FlakyStore:
    """Finds LINK; `fail_lookup` / `fail_ingest` make those transactions raise."""

    def __init__(self, fail_lookup: bool = False, fail_ingest: bool = False) -> None:
        self.fail_lookup, self.fail_ingest = fail_lookup, fail_ingest
        self.calls = 0

    async def transaction(self, fn: Callable[[Any], Any], *, durable: bool = True) -> Any:
        self.calls += 1
        if self.calls == 1:
            if self.fail_lookup:
                raise StorageUnavailable("down")
            return LINK
        if self.fail_ingest:
            raise StorageUnavailable("down")
        return None


def _call(store: FlakyStore, path_slug: str = "s", query: bytes = b"p=a") -> dict[str, Any]:
    context = LinkContext(
        store=store,  # type: ignore[arg-type]
        cache=LinkCache(0),
        wake=lambda: None,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        secret=None,
        trusted_proxies=[],
    )
    scope = {
        "type": "http",
        "method": "GET",
        "path_params": {"slug": path_slug},
        "headers": [(b"user-agent", b"test")],
        "query_string": query,
        "client": ("127.0.0.1", 5),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(redirect(context, scope, send))  # type: ignore[arg-type]
    headers = dict(sent[0]["headers"])
    return {"status": sent[0]["status"], "location": headers.get(b"location")}


def test_storage_down_at_the_click_still_redirects() -> None:
    """The click cannot be stored: logged and counted, but the person gets the 302."""
    answer = _call(FlakyStore(fail_ingest=True))
    assert answer == {"status": 302, "location": b"https://x.example/a"}


def test_storage_down_at_the_lookup_is_503() -> None:
    """Without the link there is no destination: 503 with Retry-After, not a 500."""
    assert _call(FlakyStore(fail_lookup=True))["status"] == 503


def test_a_query_that_cannot_fill_the_template_uses_the_base() -> None:
    """`{query.p}` missing: the base destination (cut before the placeholder)."""
    assert _call(FlakyStore(), query=b"")["location"] == b"https://x.example/"


@pytest.mark.parametrize(
    ("path_slug", "status"), [("s.", 302), ("s),", 302), ("s!'", 302), ("s.x", 404), (".", 404)]
)
def test_punctuation_stuck_to_a_slug_is_dropped(path_slug: str, status: int) -> None:
    """`/t/s.` (a link at the end of a sentence) redirects like `/t/s`; punctuation inside
    a slug is still an unknown link."""
    assert _call(FlakyStore(), path_slug=path_slug)["status"] == status


def test_odd_query_bytes_never_crash() -> None:
    """Query bytes that are not UTF-8 are read as latin-1: still a redirect."""
    assert _call(FlakyStore(), query=b"p=\xff&c=\xfe")["status"] == 302
