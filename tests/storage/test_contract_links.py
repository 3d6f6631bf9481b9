"""The storage contract's trigger-link operations (`LinkOps`), on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from connector.links.cache import LinkCache
from connector.links.redirect import LinkContext, redirect
from connector.storage.base import Tx
from connector.storage.link_records import TriggerLink
from tests.storage.conftest import Store
from tests.storage.test_contract import run

LINK = TriggerLink(
    slug="spring-sale",
    name="Spring sale",
    destination="https://shop.example/sale?c={contact}&v={values.variant}",
    values={"variant": "b", "a": "1"},
    fallback_url="https://shop.example/",
    origin="config",
    config_digest="d1",
    created_at=10.0,
    updated_at=11.5,
)


def test_a_saved_link_reads_back_whole(store: Store) -> None:
    """Every field of a link survives the round trip, values included."""
    run(store, lambda tx: tx.save_link(LINK))
    assert run(store, lambda tx: tx.link("spring-sale")) == LINK


def test_an_unknown_slug_is_none(store: Store) -> None:
    """Looking up a slug nobody saved gives None, not an error."""
    assert run(store, lambda tx: tx.link("nope")) is None


def test_saving_the_same_slug_replaces_it(store: Store) -> None:
    """A second save of a slug is an edit: one row, the new fields."""
    run(store, lambda tx: tx.save_link(LINK))
    edited = replace(LINK, destination="https://x.example/", enabled=False, values={}, origin="api")
    run(store, lambda tx: tx.save_link(edited))
    assert run(store, lambda tx: tx.links()) == [edited]


def test_links_are_listed_by_slug_up_to_the_limit_after_a_slug(store: Store) -> None:
    """The list is ordered by slug, honours its limit and starts after a page's last slug."""

    def save_three(tx: Tx) -> None:
        for slug in ("c", "a", "b"):
            tx.save_link(replace(LINK, slug=slug))

    run(store, save_three)
    assert [link.slug for link in run(store, lambda tx: tx.links())] == ["a", "b", "c"]
    assert [link.slug for link in run(store, lambda tx: tx.links(limit=2))] == ["a", "b"]
    assert [link.slug for link in run(store, lambda tx: tx.links(limit=2, after="b"))] == ["c"]


def test_a_click_through_the_redirect_is_stored(store: Store) -> None:
    """`GET /t/{slug}` answers its 302 after the link.clicked event is in the inbox."""
    run(store, lambda tx: tx.save_link(replace(LINK, destination="https://shop.example/")))
    context = LinkContext(
        store=store,
        cache=LinkCache(1),
        wake=lambda: None,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        secret=b"0123456789abcdef",
        trusted_proxies=[],
    )
    scope = {
        "type": "http",
        "method": "HEAD",
        "path_params": {"slug": "spring-sale"},
        "headers": [(b"user-agent", b"curl/8")],
        "query_string": b"",
        "client": ("192.0.2.1", 5),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(redirect(context, scope, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 302
    pending = run(store, lambda tx: tx.pending_events(10))
    assert [row.type for row in pending] == ["link.clicked"]
    event = orjson.loads(pending[0].payload)
    assert event["client"] == {"user_agent": "curl/8", "ip": "192.0.2.1", "http_method": "HEAD"}
    assert event["trigger"] == {
        "slug": "spring-sale",
        "name": "Spring sale",
        "contact_verified": False,
    }
