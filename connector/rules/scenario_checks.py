"""Which scenario keys each trigger takes, checked when the config loads.

A rule whose keys contradict its trigger (a real-time rule with `at`, a wait without a
timeout) would otherwise never fire, or fire in a way nobody asked for. Each problem names
the key, so `check-config` can point at it.

* `click` (default): fires as each click arrives; needs `actions`.
* `clicked_by`: at `at` (or an API check's time), once per recipient who clicked; needs
  `actions`; may have `at`, `send`, `include_bot_clicks`.
* `not_clicked`: at `at` (with `send`), or `after` each delivery, once per recipient who did
  not; needs `actions`; may have `audience`, `include_bot_clicks`.
* `wait`: a click within `timeout` of each delivery goes to `on_click`, else the timeout
  event to `on_timeout`; needs `timeout` and one of them; may have `send`.
All take `links`, `when`, `group`, `once_per` and `reenter_after`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.rules.model import RuleSettings

_FORBIDDEN: dict[str, tuple[str, ...]] = {
    "click": ("at", "after", "timeout", "send", "on_click", "on_timeout"),
    "clicked_by": ("after", "timeout", "on_click", "on_timeout", "wait_for_settled"),
    "not_clicked": ("timeout", "on_click", "on_timeout", "wait_for_settled"),
    "wait": ("at", "after", "actions"),
}
_HINT = {
    "at": 'a time needs trigger = "clicked_by" or "not_clicked"',
    "after": 'a delay after each delivery needs trigger = "not_clicked"',
    "timeout": 'a timeout needs trigger = "wait"',
    "send": 'a send is what a check covers: trigger = "clicked_by", "not_clicked" or "wait"',
    "on_click": 'on_click is for trigger = "wait"; use actions',
    "on_timeout": 'on_timeout is for trigger = "wait"',
    "actions": "a wait sends the click to on_click and the timeout to on_timeout",
    "wait_for_settled": "a check always reads each click's latest (settled) verdict",
}


def scenario_problem(rule: RuleSettings) -> tuple[str, str] | None:
    """The first contradiction in a rule's scenario keys, as (key, message), or None."""
    trigger = rule.trigger
    for key in _FORBIDDEN[trigger]:
        if _set(rule, key):
            return key, f'not allowed with trigger = "{trigger}": {_HINT[key]}'
    if trigger != "wait" and not rule.actions:
        return "actions", "a rule needs at least one action id"
    if trigger == "wait":
        if rule.timeout is None:
            return "timeout", 'trigger = "wait" needs a timeout, e.g. timeout = "24h"'
        if not rule.on_click and not rule.on_timeout:
            return "on_click", "a wait needs on_click and/or on_timeout actions"
    if trigger == "not_clicked" and rule.at is not None and rule.after is not None:
        return "after", "choose one verification time: at (absolute) or after (each delivery)"
    if trigger == "not_clicked" and rule.at is not None and rule.send is None:
        return (
            "send",
            "a check at a fixed time needs the send it covers, e.g. send = { campaign_id = ... }",
        )
    if rule.include_bot_clicks and trigger not in ("clicked_by", "not_clicked"):
        return "include_bot_clicks", "only checks (clicked_by, not_clicked) count clicks; use when"
    if rule.audience != "delivered" and trigger != "not_clicked":
        return "audience", 'audience is for trigger = "not_clicked"'
    if rule.reenter_after is not None and rule.once_per == "event":
        return (
            "reenter_after",
            'a re-entry window needs once_per = "recipient", "message" or "campaign"',
        )
    return None


def _set(rule: RuleSettings, key: str) -> bool:
    value = getattr(rule, key)
    return bool(value) if isinstance(value, list | bool) else value is not None
