"""Re-entry and first response: the `entries` key a match takes, and the reason a match
that finds its key held is recorded as lost (in the decision log)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.rules.model import RuleSettings
from connector.scenarios.keys import message_ids


def once_key(rule: RuleSettings, recipient: str, data: dict[str, Any]) -> str:
    message_id, campaign_id = message_ids(data)
    scope = {
        "recipient": "",
        "message": f":m:{message_id}",
        "campaign": f":c:{campaign_id or message_id}",
    }[rule.once_per]
    return f"once:{rule.id}:{recipient}{scope}"


def lost_reason(rule: RuleSettings, kind: str, holder: tuple[str, str, float]) -> str:
    other, event_id, at = holder
    when = datetime.fromtimestamp(at, UTC).isoformat()
    if kind == "group":
        if other != rule.id:
            return (
                f"lost to first response: rule {other!r} of group {rule.group!r} fired first"
                f" for this recipient and send ({event_id} at {when})"
            )
        return (
            f"group {rule.group!r} already fired for this recipient and send ({event_id} at {when})"
        )
    window = f", re-entry after {rule.reenter_after:g} s" if rule.reenter_after else ""
    return f"already fired once per {rule.once_per} ({event_id} at {when}{window})"
