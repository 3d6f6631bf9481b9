"""What the scenario engine would do with one event, in words, for `connector rules test`.

The routing decision alone cannot say it: whether a wait is running, or a group's first
response was already given, depends on stored state. These notes name each condition, and
what a delivery or a registered recipient would start.
"""

from __future__ import annotations

from typing import Any

from connector.rules.decision import Decision
from connector.rules.model import RuleSettings
from connector.scenarios.engine import starts_for
from connector.scenarios.keys import message_ids

_STATUS = {"email.delivered": "delivered", "email.sent": "sent"}


def scenario_notes(
    rules: list[RuleSettings], event: dict[str, Any], decision: Decision
) -> list[str]:
    by_id = {rule.id: rule for rule in rules}
    notes: list[str] = []
    for match in decision.matched:
        rule = by_id.get(match["rule"])
        if rule is None:
            continue
        if rule.trigger == "wait" and event.get("scenario") is None:
            notes.append(
                f"{rule.id}: fires only while a wait for this recipient and message is running"
                " (started by its delivery)"
            )
        if rule.group:
            notes.append(
                f"{rule.id}: fires only if no rule of group {rule.group!r} fired first"
                " for this recipient and send"
            )
        if rule.once_per != "event":
            window = (
                f", or again after {_duration(rule.reenter_after)}" if rule.reenter_after else ""
            )
            notes.append(f"{rule.id}: fires once per {rule.once_per}{window}")
    status = _STATUS.get(str(event.get("type")))
    if status is not None:
        message_id, campaign_id = message_ids(event)
        for rule in rules:
            if starts_for(rule, status, message_id, campaign_id, event.get("test") is True):
                delay = _duration((rule.timeout if rule.trigger == "wait" else rule.after) or 0.0)
                what = "a wait for a click" if rule.trigger == "wait" else "a did-not-click check"
                notes.append(f"{rule.id}: this {status} event starts {what}, due {delay} after it")
    return notes


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
