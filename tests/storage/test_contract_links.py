"""The storage contract's trigger-link operations (`LinkOps`), on every backend."""

from __future__ import annotations

from dataclasses import replace

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


def test_links_are_listed_by_slug_up_to_the_limit(store: Store) -> None:
    """The list is ordered by slug and honours its limit."""
    for slug in ("c", "a", "b"):
        run(store, lambda tx, slug=slug: tx.save_link(replace(LINK, slug=slug)))
    assert [link.slug for link in run(store, lambda tx: tx.links())] == ["a", "b", "c"]
    assert [link.slug for link in run(store, lambda tx: tx.links(limit=2))] == ["a", "b"]
