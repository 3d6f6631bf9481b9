"""Every operator of a rule leaf, on a real-shaped click event, including the edge cases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from connector.rules.operators import as_datetime, same, show
from tests.rules.support import click_event, holds


def leaf(field: str, op: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"field": field, op: value, **extra}


CI = {"case_insensitive": True}

CASES: list[tuple[dict[str, Any], bool]] = [
    # eq: JSON equality, types must match
    (leaf("link.host", "eq", "shop.example.org"), True),
    (leaf("link.host", "eq", "SHOP.example.org"), False),
    (leaf("link.host", "eq", "SHOP.example.org", **CI), True),
    (leaf("bot.suspected", "eq", False), True),
    (leaf("bot.suspected", "eq", 0), False),
    (leaf("bot.score", "eq", 10), True),
    (leaf("bot.score", "eq", 10.0), True),
    (leaf("bot.score", "eq", "10"), False),
    (leaf("bot.score", "eq", True), False),
    (leaf("metadata.tags", "eq", ["vip", "beta"]), True),
    (leaf("metadata.tags", "eq", ["beta", "vip"]), False),
    (leaf("metadata.nested", "eq", {"tier": "GOLD"}), False),
    (leaf("metadata.nested", "eq", {"tier": "GOLD"}, **CI), True),
    (leaf("link.id", "eq", "x"), False),  # null
    (leaf("metadata.absent", "eq", "x"), False),  # missing
    # ne: present and different; missing / null is false
    (leaf("link.host", "ne", "other.example"), True),
    (leaf("link.host", "ne", "shop.example.org"), False),
    (leaf("link.host", "ne", "SHOP.EXAMPLE.ORG", **CI), False),
    (leaf("link.host", "ne", 5), True),
    (leaf("link.id", "ne", "x"), False),
    (leaf("metadata.absent", "ne", "x"), False),
    # in / not_in
    (leaf("link.query.utm_source", "in", ["cio", "newsletter"]), True),
    (leaf("link.query.utm_source", "in", ["CIO"]), False),
    (leaf("link.query.utm_source", "in", ["CIO"], **CI), True),
    (leaf("bot.score", "in", [10, 20]), True),
    (leaf("bot.score", "in", ["10"]), False),
    (leaf("bot.suspected", "in", [0, 1]), False),
    (leaf("bot.suspected", "in", [False]), True),
    (leaf("metadata.tags", "in", ["vip"]), False),  # list field: use contains
    (leaf("metadata.absent", "in", ["x"]), False),
    (leaf("link.query.utm_source", "not_in", ["newsletter"]), True),
    (leaf("link.query.utm_source", "not_in", ["cio"]), False),
    (leaf("link.query.utm_source", "not_in", ["CIO"], **CI), False),
    (leaf("metadata.tags", "not_in", ["x"]), False),
    (leaf("metadata.plan", "not_in", ["x"]), False),
    (leaf("metadata.absent", "not_in", ["x"]), False),
    # contains: substring of a string, member of a list
    (leaf("link.url", "contains", "utm_source=cio"), True),
    (leaf("recipient.email", "contains", "EXAMPLE"), False),
    (leaf("recipient.email", "contains", "EXAMPLE", **CI), True),
    (leaf("metadata.tags", "contains", "vip"), True),
    (leaf("metadata.tags", "contains", "VIP", **CI), True),
    (leaf("metadata.tags", "contains", "vi"), False),
    (leaf("bot.score", "contains", 1), False),
    (leaf("metadata.nested", "contains", "tier"), False),
    (leaf("link.url", "contains", 7), False),
    # starts_with / ends_with: a string or any of a list
    (leaf("link.path", "starts_with", "/pricing"), True),
    (leaf("link.path", "starts_with", ["/blog", "/pricing"]), True),
    (leaf("link.path", "starts_with", "/PRICING"), False),
    (leaf("link.path", "starts_with", "/PRICING", **CI), True),
    (leaf("recipient.email", "ends_with", "@example.org"), True),
    (leaf("recipient.email", "ends_with", "@EXAMPLE.ORG", **CI), True),
    (leaf("bot.score", "starts_with", "1"), False),
    (leaf("link.id", "ends_with", ""), False),
    # matches: regex searched anywhere
    (leaf("link.url", "matches", r"^https://shop\."), True),
    (leaf("link.path", "matches", r"/(plans|tiers)$"), True),
    (leaf("link.path", "matches", "PRICING"), False),
    (leaf("link.path", "matches", "PRICING", **CI), True),
    (leaf("bot.score", "matches", "1"), False),
    # exists: present and not null
    (leaf("link.host", "exists", True), True),
    (leaf("link.id", "exists", True), False),
    (leaf("link.id", "exists", False), True),
    (leaf("metadata.plan", "exists", False), True),
    (leaf("metadata.absent", "exists", False), True),
    (leaf("link.query.utm_source", "exists", True), True),
    (leaf("link.query.absent", "exists", False), True),
    # gt / gte / lt / lte: numbers, dates, strings; mismatches are false
    (leaf("bot.score", "gt", 5), True),
    (leaf("bot.score", "gt", 10), False),
    (leaf("bot.score", "gte", 10), True),
    (leaf("bot.score", "lt", 10.5), True),
    (leaf("bot.score", "lte", 9), False),
    (leaf("bot.score", "gt", "5"), False),
    (leaf("bot.suspected", "gte", 0), False),
    (leaf("recipient.email", "gt", "a"), True),
    (leaf("recipient.email", "gt", "z"), False),
    (leaf("recipient.email", "lt", "Z", **CI), True),
    (leaf("occurred_at", "gt", datetime(2024, 12, 31, tzinfo=UTC)), True),
    (leaf("occurred_at", "gte", date(2025, 1, 1)), True),
    (leaf("occurred_at", "lt", "2025-01-01T13:00:00+01:00"), False),  # same instant
    (leaf("occurred_at", "lte", "2025-01-01T13:00:00+01:00"), True),
    (leaf("occurred_at", "lt", datetime(2025, 1, 1, 12, 30)), True),  # naive = UTC
    (leaf("metadata.score", "gt", "2024-01-01"), False),
    (leaf("link.host", "gt", date(2020, 1, 1)), False),
    (leaf("link.id", "lt", 5), False),
    # URL parts and list indexes through the shared resolver
    (leaf("link.scheme", "eq", "https"), True),
    (leaf("link.path", "eq", "/pricing/plans"), True),
    (leaf("link.query.tag", "eq", "a"), True),
    (leaf("link.fragment", "eq", ""), False),  # no "#" in the URL: absent, not ""
    (leaf("bot.reasons.0.code", "eq", "ua.preview"), True),
    (leaf("bot.reasons.-1.points", "gte", 10), True),
    (leaf("bot.reasons.3.code", "exists", False), True),
]


@pytest.mark.parametrize(("condition", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_leaf_operator(condition: dict[str, Any], expected: bool) -> None:
    """Each operator gives the documented answer for its field and operand."""
    assert holds(condition) is expected


COMPOSITES: list[tuple[dict[str, Any], bool]] = [
    ({"all": [leaf("link.host", "eq", "shop.example.org"), leaf("bot.score", "lt", 50)]}, True),
    ({"all": [leaf("link.host", "eq", "shop.example.org"), leaf("bot.score", "gt", 50)]}, False),
    ({"any": [leaf("link.host", "eq", "x"), leaf("bot.score", "gt", 5)]}, True),
    ({"any": [leaf("link.host", "eq", "x"), leaf("bot.score", "gt", 50)]}, False),
    ({"not": leaf("link.host", "eq", "x")}, True),
    ({"not": leaf("link.id", "eq", "x")}, True),  # not over a missing field: true
    ({"not": {"not": leaf("link.host", "eq", "shop.example.org")}}, True),
    (
        {
            "all": [
                {
                    "any": [
                        leaf("link.query.utm_source", "eq", "nl"),
                        leaf("link.path", "matches", "^/pr"),
                    ]
                },
                {"not": {"any": [leaf("recipient.email", "ends_with", "@example.com")]}},
            ]
        },
        True,
    ),
]


@pytest.mark.parametrize(("condition", "expected"), COMPOSITES)
def test_nested_composites(condition: dict[str, Any], expected: bool) -> None:
    """all needs every item, any needs one, not inverts, and they nest freely."""
    assert holds(condition) is expected


def test_missing_field_is_false_for_every_operator_but_exists_false() -> None:
    """On a missing field only `exists = false` holds; `not` is how to say "anything but"."""
    operands = {
        "eq": "x",
        "ne": "x",
        "in": ["x"],
        "not_in": ["x"],
        "contains": "x",
        "starts_with": "x",
        "ends_with": "x",
        "matches": ".*",
        "gt": 0,
        "gte": "",
        "lt": "~",
        "lte": 10,
        "exists": True,
    }
    for op, value in operands.items():
        assert holds(leaf("metadata.absent", op, value)) is False, op
        assert holds({"not": leaf("metadata.absent", op, value)}) is True, op
    assert holds(leaf("metadata.absent", "exists", False)) is True


def test_case_insensitive_email_domain_uses_casefold() -> None:
    """case_insensitive folds both sides, so a shouting address still matches its domain."""
    event = click_event(**{"recipient.email": "Dana@Example.ORG"})
    assert holds(leaf("recipient.email", "ends_with", "@example.org"), event) is False
    assert holds(leaf("recipient.email", "ends_with", "@example.org", **CI), event) is True
    assert holds(leaf("recipient.email", "eq", "dana@example.org", **CI), event) is True


@pytest.mark.parametrize(
    ("url", "field", "exists"),
    [
        ("https://shop.example.org/a", "link.fragment", False),
        ("https://shop.example.org/a#", "link.fragment", True),
        ("https://shop.example.org/a#top", "link.fragment", True),
        ("https://shop.example.org/a", "link.query", False),
        ("https://shop.example.org/a?utm_source=x", "link.query", True),
        ("https://shop.example.org/a", "link.query.utm_source", False),
        ("https://shop.example.org/a?utm_source=", "link.query.utm_source", True),
        ("https://shop.example.org/a?y=1", "link.query.utm_source", False),
    ],
)
def test_exists_on_url_parts_means_present_in_the_url(url: str, field: str, exists: bool) -> None:
    """`exists = false` on a URL part the URL lacks holds; an empty part that is there exists."""
    event = click_event(**{"link.url": url})
    assert holds(leaf(field, "exists", exists), event) is True
    assert holds(leaf(field, "exists", not exists), event) is False


def test_empty_string_is_present() -> None:
    """An empty string is a value: it exists and compares like any other string."""
    event = click_event(**{"message.subject": ""})
    assert holds(leaf("message.subject", "exists", True), event) is True
    assert holds(leaf("message.subject", "eq", ""), event) is True
    assert holds(leaf("message.subject", "ne", "x"), event) is True


def test_same_is_strict_json_equality() -> None:
    """Booleans never equal numbers, numbers compare by value, containers item by item."""
    assert same(True, True) and not same(True, 1) and not same(0, False)
    assert same(1, 1.0) and not same("1", 1)
    assert same([1, {"a": "B"}], [1.0, {"a": "b"}], fold=True)
    assert not same([1, 2], [1]) and not same({"a": 1}, {"b": 1}) and not same(None, "x")


def test_as_datetime_accepts_dates_and_iso_strings_only() -> None:
    """Dates, datetimes and ISO strings become aware datetimes; anything else is None."""
    assert as_datetime("2025-01-01T12:00:00Z") == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert as_datetime(date(2025, 1, 1)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert as_datetime("not a date") is None
    assert as_datetime(1735732800) is None


def test_show_truncates_long_values() -> None:
    """Values in reasons are cut to a few dozen characters, never a whole payload."""
    assert len(show("x" * 10_000)) < 70
    assert len(show({"k": list(range(10_000))})) <= 60
    assert show(None) == "null" and show(True) == "true"
