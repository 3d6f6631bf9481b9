"""Which subjects a click counts under, and which events are not counted at all."""

from __future__ import annotations

from connector.reports.recorder import counted, subjects_of


def test_a_trigger_click_counts_under_its_slug_campaign_and_message() -> None:
    """A `link.clicked` is reported by slug (`link.id`), not by destination URL."""
    data = {
        "type": "link.clicked",
        "link": {"id": "spring-sale", "canonical": "https://shop.example/"},
        "message": {"id": "m1", "campaign_id": "c1"},
    }
    assert subjects_of(data) == (("trigger", "spring-sale"), ("campaign", "c1"), ("message", "m1"))


def test_an_esp_click_counts_under_its_canonical_link_and_skips_empty_keys() -> None:
    """An `email.clicked` with no campaign counts under its link and message only."""
    data = {
        "type": "email.clicked",
        "link": {"canonical": "https://a.example/"},
        "message": {"id": "m"},
    }
    assert subjects_of(data) == (("link", "https://a.example/"), ("message", "m"))


def test_emitted_and_non_click_events_are_not_counted() -> None:
    """A scenario's emitted event and a delivery are no clicks anyone made."""
    click = {"type": "email.clicked", "id": "e", "message": {"id": "m"}}
    assert counted(click | {"scenario": {"rule": "r"}}, False, 1.0) is None
    assert counted(click | {"type": "email.delivered"}, False, 1.0) is None
    made = counted(click | {"recipient": {"email": "A@x.io"}}, True, 5.0, final=True)
    assert made is not None
    assert (made.recipient, made.at, made.suspected, made.final) == ("a@x.io", 5.0, True, True)
