"""Builders shared by the rule tests: a real-shaped click event and one-off rule sets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.rules.conditions import parse_condition
from connector.rules.engine import Lookup, RuleSet, compile_condition
from connector.rules.model import RuleSettings
from schemas import Bot, BotReason, Client, EmailClicked, Link, Message, Recipient

CLICK_URL = "https://shop.example.org/pricing/plans?utm_source=cio&utm_medium=email&tag=a&tag=b"


def click_event(**changes: Any) -> dict[str, Any]:
    """A click as the service hands it to the rules (`model_dump(mode="json")`), then patched.

    `changes` replace top-level keys, or nested ones with a dotted key: `**{"link.url": ...}`.
    """
    model = EmailClicked(
        id="evt_01",
        occurred_at=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        received_at=datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC),
        provider="customerio",
        source="cio",
        provider_event_id="01HZX3K9Q4V6B8N2M7R5T1W0YA",
        recipient=Recipient(email="dana@example.org", id="u_4821"),
        message=Message(id="m_1", campaign_id="42", subject="Your spring picks", link_count=3),
        link=Link(url=CLICK_URL, host="shop.example.org", position=2),
        client=Client(user_agent="Mozilla/5.0 (iPhone)", ip="198.51.100.23"),
        metadata={"tags": ["vip", "beta"], "score": 7, "plan": None, "nested": {"tier": "gold"}},
        bot=Bot(
            score=10,
            band="unlikely",
            reasons=[BotReason(code="ua.preview", points=10, detail="link preview UA")],
        ),
    )
    data = model.model_dump(mode="json")
    for key, value in changes.items():
        *parents, last = key.split(".")
        target = data
        for part in parents:
            target = target[part]
        target[last] = value
    return data


def holds(condition: dict[str, Any], event: dict[str, Any] | None = None) -> bool:
    """Whether a condition table holds for the event (default: `click_event()`)."""
    node = compile_condition(parse_condition(condition))
    return node.test(Lookup(click_event() if event is None else event))


def rule(rule_id: str = "r", **fields: Any) -> RuleSettings:
    return RuleSettings.model_validate({"id": rule_id, "actions": ["crm"], **fields})


def rule_set(*rules: RuleSettings) -> RuleSet:
    return RuleSet.from_settings(rules)
