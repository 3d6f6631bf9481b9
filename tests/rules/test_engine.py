"""RuleSet.decide: which rules match, why the others do not, skipping, and fan-out."""

from __future__ import annotations

import json
import time
from typing import Any

from connector.rules.decision import ActionTarget, Decision
from tests.rules.support import click_event, rule, rule_set

PRICING = {
    "all": [
        {"field": "link.host", "eq": "shop.example.org"},
        {"field": "link.path", "starts_with": "/pricing"},
        {"not": {"field": "recipient.email", "ends_with": "@example.com"}},
    ]
}


def reasons(decision: Decision) -> dict[str, str]:
    return {item["rule"]: item["reason"] for item in decision.unmatched}


def test_matched_and_unmatched_with_reasons() -> None:
    """Matches carry actions and the settled flag; misses name the failing leaf and value."""
    rules = rule_set(
        rule("pricing", when=PRICING, actions=["crm", "slack"], wait_for_settled=True),
        rule("blog", when={"field": "link.path", "starts_with": "/blog"}),
        rule("other-host", when={"field": "link.host", "eq": "other.example"}),
    )
    decision = rules.decide(click_event())
    assert decision.matched == [
        {"rule": "pricing", "actions": ["crm", "slack"], "wait_for_settled": True}
    ]
    assert reasons(decision) == {
        "blog": "link.path starts_with '/blog' was '/pricing/plans'",
        "other-host": "link.host eq 'other.example' was 'shop.example.org'",
    }


def test_reason_under_not_names_the_leaf_that_held() -> None:
    """A failed `not` explains which inner leaf held, with its actual value."""
    decision = rule_set(rule("pricing", when=PRICING)).decide(
        click_event(**{"recipient.email": "bob@example.com"})
    )
    assert reasons(decision) == {
        "pricing": "not: recipient.email ends_with '@example.com' was 'bob@example.com'"
    }


def test_reason_for_missing_field_and_any() -> None:
    """A missing field says so; a failed `any` names how many alternatives and the first."""
    rules = rule_set(
        rule("by-id", when={"field": "link.id", "eq": "hero"}),
        rule("has-id", when={"field": "link.id", "exists": True}),
        rule(
            "either",
            when={"any": [{"field": "bot.score", "gt": 50}, {"field": "link.host", "eq": "x"}]},
        ),
        rule("no-id", when={"field": "link.host", "exists": False}),
    )
    assert reasons(rules.decide(click_event())) == {
        "by-id": "link.id eq 'hero' was null",
        "has-id": "link.id is missing",
        "either": "none of 2 held, first: bot.score gt 50 was 10",
        "no-id": "link.host exists (was 'shop.example.org')",
    }


def test_reason_truncates_long_values() -> None:
    """A huge field value is cut in the reason; the decision stays small."""
    long_url = "https://shop.example.org/" + "x" * 5000
    rules = rule_set(rule("short", when={"field": "link.url", "eq": "https://a.example/"}))
    decision = rules.decide(click_event(**{"link.url": long_url}))
    reason = reasons(decision)["short"]
    assert reason.startswith("link.url eq 'https://a.example/' was 'https://shop.example.org/xx")
    assert len(reason) < 120 and len(json.dumps(decision.as_dict())) < 300


def test_rule_without_when_matches_every_real_click() -> None:
    """`when` is optional: such a rule matches every event of its type."""
    decision = rule_set(rule("all-clicks")).decide(click_event())
    assert [m["rule"] for m in decision.matched] == ["all-clicks"]


def test_event_type_filter() -> None:
    """Rules only see their event types; a delivered event skips click rules with a reason."""
    rules = rule_set(rule("clicks"), rule("deliveries", event="email.delivered"))
    delivered = {"type": "email.delivered", "id": "evt_2", "test": False}
    decision = rules.decide(delivered)
    assert [m["rule"] for m in decision.matched] == ["deliveries"]
    assert reasons(decision) == {"clicks": "event type 'email.delivered' is not email.clicked"}
    assert reasons(rules.decide(click_event()))["deliveries"] == (
        "event type 'email.clicked' is not email.delivered"
    )


def test_test_sends_are_skipped_unless_opted_in() -> None:
    """ESP test sends match only rules with include_test_sends = true."""
    rules = rule_set(rule("normal"), rule("qa", include_test_sends=True))
    decision = rules.decide(click_event(test=True))
    assert [m["rule"] for m in decision.matched] == ["qa"]
    assert reasons(decision) == {"normal": "test send (include_test_sends is off)"}


def test_system_links_are_skipped_unless_opted_in() -> None:
    """Unsubscribe and mailto clicks match only rules with include_system_links = true."""
    rules = rule_set(rule("normal"), rule("all-links", include_system_links=True))
    for url, kind in [
        ("https://x.us5.list-manage.com/unsubscribe?u=1&id=2", "unsubscribe"),
        ("mailto:help@example.org", "scheme:mailto"),
    ]:
        decision = rules.decide(click_event(**{"link.url": url}))
        assert [m["rule"] for m in decision.matched] == ["all-links"]
        assert reasons(decision) == {"normal": f"system link: {kind} (include_system_links is off)"}


def test_actions_are_deduplicated_per_action_immediate_first() -> None:
    """Two rules naming one action give one delivery; immediate owners beat settled ones."""
    rules = rule_set(
        rule("settled-crm", actions=["crm", "warehouse"], wait_for_settled=True),
        rule("fast", actions=["slack", "crm"]),
        rule("also-slack", actions=["slack"]),
    )
    decision = rules.decide(click_event())
    assert decision.actions() == [
        ActionTarget("fast", "slack"),
        ActionTarget("fast", "crm"),
        ActionTarget("settled-crm", "warehouse"),
    ]
    assert decision.rules_for("crm") == ["settled-crm", "fast"]
    assert decision.rules_for("slack") == ["fast", "also-slack"]
    rule_id, action = decision.actions()[0]
    assert (rule_id, action) == ("fast", "slack")


def test_as_dict_is_plain_json() -> None:
    """The stored decision survives a JSON round trip unchanged."""
    rules = rule_set(
        rule("a", actions=["crm"]), rule("b", when={"field": "link.id", "exists": True})
    )
    stored = rules.decide(click_event()).as_dict()
    assert json.loads(json.dumps(stored)) == stored
    assert set(stored) == {"matched", "unmatched"}


def test_decide_tolerates_broken_events() -> None:
    """Events missing everything, or with junk types, are decided without raising."""
    rules = rule_set(rule("r", when=PRICING), rule("s", include_system_links=True))
    junk: list[dict[str, Any]] = [
        {},
        {"type": ["email.clicked"]},
        {"type": "email.clicked", "link": "not a table"},
        {"type": "email.clicked", "link": {"url": 5}},
        {"type": "email.clicked", "link": {"url": "http://[::1"}},
    ]
    for event in junk:
        decision = rules.decide(event)
        assert len(decision.matched) + len(decision.unmatched) == 2


def test_decide_is_fast() -> None:
    """20 rules of 3-5 leaves decide well under a millisecond (generous bound for CI noise)."""
    rules = rule_set(
        *[
            rule(
                f"r{i}",
                when={
                    "all": [
                        {"field": "link.host", "eq": f"shop{i % 4}.example.org"},
                        {"field": "link.query.utm_source", "in": ["cio", f"n{i}"]},
                        {"field": "bot.suspected", "eq": False},
                    ]
                },
            )
            for i in range(20)
        ]
    )
    event = click_event(**{"link.host": "shop1.example.org"})
    rules.decide(event)
    runs = 300
    started = time.perf_counter()
    for _ in range(runs):
        rules.decide(event)
    per_call = (time.perf_counter() - started) / runs
    assert per_call < 1e-3, f"{per_call * 1e6:.0f} µs per decide"
