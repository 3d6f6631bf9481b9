"""Scenario keys in the config: each contradiction is a clear error naming its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connector.admin.models import SendRef
from connector.config import parse_settings
from connector.errors import ConfigError
from connector.rules.model import SendSettings
from connector.rules.scenario_model import parse_duration, parse_links

ACTIONS = [{"id": "crm", "type": "log"}]


def _problems(rule: dict[str, Any], *more: dict[str, Any]) -> list[str]:
    try:
        parse_settings({"rules": [rule, *more], "actions": ACTIONS}, env={})
    except ConfigError as error:
        return error.problems
    return []


@pytest.mark.parametrize(
    ("rule", "key", "words"),
    [
        ({"at": "2030-01-01T00:00:00Z"}, "at", 'trigger = "clicked_by" or "not_clicked"'),
        ({"trigger": "wait", "on_click": ["crm"]}, "timeout", "needs a timeout"),
        ({"trigger": "wait", "timeout": "1h"}, "on_click", "on_click and/or on_timeout"),
        (
            {"trigger": "not_clicked", "at": "2030-01-01T00:00:00Z"},
            "send",
            "needs the send it covers",
        ),
        ({"trigger": "not_clicked", "after": "soon"}, "after", "is not a duration"),
        ({"trigger": "not_clicked", "after": "-5m"}, "after", "is not a duration"),
        ({"trigger": "not_clicked", "after": float("nan")}, "after", "more than zero"),
        ({"trigger": "not_clicked", "after": float("inf")}, "after", "at most 100 years"),
        ({"trigger": "not_clicked", "after": 1e300}, "after", "at most 100 years"),
        ({"trigger": "not_clicked", "after": "99999999999d"}, "after", "at most 100 years"),
        ({"trigger": "wait", "timeout": float("nan"), "on_click": ["crm"]}, "timeout", "zero"),
        ({"once_per": "recipient", "reenter_after": float("inf")}, "reenter_after", "100 y"),
        ({"trigger": "clicked_by", "at": "next monday"}, "at", "is not a time"),
        ({"links": ["mailto:a@b.c"]}, "links", "not an absolute http(s) URL"),
        ({"links": []}, "links", "non-empty list"),
        ({"once_per": "contact"}, "once_per", "recipient"),
        ({"reenter_after": "1d"}, "reenter_after", "once_per"),
        (
            {"trigger": "clicked_by", "send": {"campaign_id": "x", "message_id": "y"}},
            "send",
            "exactly one",
        ),
    ],
)
def test_bad_scenario_keys_are_named(rule: dict[str, Any], key: str, words: str) -> None:
    """Each problem names the rule and the key, and says what to write instead."""
    base = {} if rule.get("trigger") == "wait" else {"actions": ["crm"]}
    problems = _problems({"id": "r1", **base, **rule})
    assert problems, "expected a configuration error"
    joined = "\n".join(problems)
    assert f"rules[0].{key}" in joined or f".{key}" in joined
    assert words in joined
    assert "'r1'" in joined


def test_unknown_group_is_reported() -> None:
    """A group with a single member is almost surely misspelt."""
    problems = _problems(
        {"id": "a", "group": "offers", "actions": ["crm"]},
        {"id": "b", "group": "offer", "actions": ["crm"]},
    )
    assert any("unknown group 'offers'" in p for p in problems)
    assert any("unknown group 'offer'" in p for p in problems)


def test_unknown_on_timeout_action_is_reported() -> None:
    problems = _problems({"id": "w", "trigger": "wait", "timeout": "1h", "on_timeout": ["nope"]})
    assert problems == ["rules[0] (w).on_timeout: unknown action 'nope'"]


def test_a_past_check_is_stale_for_check_config_only() -> None:
    """`serve` starts with a past `at` (the check may have fired); check-config flags it."""
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    rule = {"id": "c", "trigger": "clicked_by", "at": past, "actions": ["crm"]}
    settings = parse_settings({"rules": [rule], "actions": ACTIONS}, env={})
    stale = settings.stale_checks(datetime.now(UTC))
    assert len(stale) == 1
    assert stale[0].startswith("rules[0] (c).at:")
    assert "in the past" in stale[0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("48h", 172800),
        ("2d", 172800),
        ("1h30m", 5400),
        ("PT24H", 86400),
        (3600, 3600),
        ("1w", 604800),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("model", "given", "kept"),
    [
        (SendSettings, 42, "42"),  # Customer.io's campaign ids are numbers
        (SendSettings, "spring", "spring"),
        (SendRef, 42, "42"),  # the admin API's send, from JSON
    ],
)
def test_a_numeric_send_id_is_its_text(model: type[BaseModel], given: object, kept: str) -> None:
    """`send = { campaign_id = 42 }` names the campaign the ESP's events call "42"."""
    assert model.model_validate({"campaign_id": given}).campaign_id == kept  # type: ignore[attr-defined]


@pytest.mark.parametrize("model", [SendSettings, SendRef])
def test_a_boolean_send_id_is_refused(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError, match="valid string"):
        model.model_validate({"campaign_id": True})


def test_link_patterns_match_canonical_forms() -> None:
    """Exact, glob and prefix patterns are canonicalised like the links they test."""
    exact, glob, prefix = (
        parse_links(
            [
                "HTTPS://Shop.example.org/pricing/?utm_source=x",
                "https://shop.example.org/blog/*",
                {"prefix": "https://docs.example.org"},
            ]
        )
        or ()
    )
    assert exact.matches("https://shop.example.org/pricing")
    assert not exact.matches("https://shop.example.org/pricing/team")
    assert glob.matches("https://shop.example.org/blog/spring-sale")
    assert not glob.matches("https://shop.example.org/pricing")
    assert prefix.matches("https://docs.example.org/guide")
    assert parse_links("any") is None


def test_a_host_prefix_never_matches_a_longer_host_and_globs_keep_url_text() -> None:
    """`{prefix = "https://x.org"}` is the site, not x.org.evil.com; `?` is not a wildcard."""
    prefix, query = parse_links([{"prefix": "https://x.org"}, "https://x.org/search?q=*"]) or ()
    assert prefix.matches("https://x.org/")
    assert prefix.matches("https://x.org/deep/page")
    assert not prefix.matches("https://x.org.evil.com/")
    assert not prefix.matches("https://x.org:8080/")
    assert query.matches("https://x.org/search?q=shoes")
    assert not query.matches("https://x.org/searchXq=shoes")
