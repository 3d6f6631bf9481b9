"""Clicks that come before their delivery: ESPs do not keep webhooks in order (batches,
retries, separate queues per event type), so a quick click can be stored before the
`email.delivered` that starts its wait. Such a click is kept (the first one, in `entries`);
the wait its delivery starts is then due at once, and its firing (`firing.py`) sends that
click to `on_click` instead of timing out.
"""

from __future__ import annotations

from dataclasses import replace

from connector.rules.model import RuleSettings
from connector.scenarios.keys import delivery_timer_id, early_click_key
from connector.storage.base import Tx
from connector.storage.scenario_records import TimerRecord


def no_wait(
    tx: Tx,
    rule: RuleSettings,
    recipient: str,
    message_id: str,
    event_id: str,
    clicked_at: float,
    now: float,
) -> str:
    """Why a click answers no wait; one whose wait never started is kept for its delivery."""
    if tx.timer(delivery_timer_id(rule.id, message_id, recipient)) is not None:
        return "no wait running for this recipient and message (already answered or timed out)"
    key = early_click_key(rule.id, recipient, message_id)
    if tx.entry_holder(key, event_id, now, None) is None:
        tx.record_entry(key, rule.id, event_id, clicked_at)
    return (
        "no wait running for this recipient and message yet: the click is kept, and the"
        " wait its delivery starts gets it"
    )


def answered_early(tx: Tx, timer: TimerRecord) -> TimerRecord:
    """A wait whose click came before it is due at once (else as it was)."""
    if timer.kind != "wait" or timer.recipient is None:
        return timer
    key = early_click_key(timer.rule_id, timer.recipient, timer.send.id)
    early = tx.entry_holder(key, "", timer.created_at, None)
    if early is None or early[2] >= timer.due_at:
        return timer
    return replace(timer, due_at=min(timer.due_at, timer.created_at))
