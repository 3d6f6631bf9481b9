"""Field paths over events, including URL parts, never raise on odd input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.fields import MISSING, resolve

EVENT = {
    "link": {"url": "https://Shop.example.org/pricing/pro?utm_source=cio&x=&y=1#top"},
    "bot": {"reasons": [{"code": "ua.known_bot"}]},
    "recipient": {"email": None},
}


def test_url_parts() -> None:
    """link.scheme/path/query/fragment are derived from link.url."""
    assert resolve(EVENT, "link.scheme") == "https"
    assert resolve(EVENT, "link.path") == "/pricing/pro"
    assert resolve(EVENT, "link.query.utm_source") == "cio"
    assert resolve(EVENT, "link.query.x") == ""
    assert resolve(EVENT, "link.query.nope") is MISSING
    assert resolve(EVENT, "link.fragment") == "top"


@pytest.mark.parametrize(
    ("url", "path", "expected"),
    [
        ("https://shop.example.org/a", "link.fragment", MISSING),
        ("https://shop.example.org/a#", "link.fragment", ""),
        ("https://shop.example.org/a#top", "link.fragment", "top"),
        ("https://shop.example.org/a", "link.query", MISSING),
        ("https://shop.example.org/a?", "link.query", {}),
        ("https://shop.example.org/a", "link.query.x", MISSING),
        ("https://shop.example.org/a?x=", "link.query.x", ""),
        ("https://shop.example.org/a?y=1#x=2", "link.query.x", MISSING),
        ("//shop.example.org/a", "link.scheme", MISSING),
        ("https://shop.example.org", "link.path", "/"),
    ],
)
def test_absent_url_parts_are_missing(url: str, path: str, expected: Any) -> None:
    """A URL part the URL does not have is MISSING; one present but empty is an empty string."""
    assert resolve({"link": {"url": url}}, path) == expected


def test_lists_nulls_and_missing() -> None:
    """List indexes work, null is a value, absent is MISSING, odd digits are not indexes."""
    assert resolve(EVENT, "bot.reasons.0.code") == "ua.known_bot"
    assert resolve(EVENT, "bot.reasons.-1.code") == "ua.known_bot"
    assert resolve(EVENT, "bot.reasons.5.code") is MISSING
    assert resolve(EVENT, "bot.reasons.²") is MISSING
    assert resolve(EVENT, "recipient.email") is None
    assert resolve(EVENT, "recipient.id") is MISSING


@given(st.text(max_size=40), st.text(max_size=80))
def test_resolve_never_raises(path: str, url: str) -> None:
    """Any path over any URL resolves to a value or MISSING without raising."""
    resolve({"link": {"url": url}, "a": [1, {"b": 2}]}, path)
