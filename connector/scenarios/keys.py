"""Stable names for the scenario engine's rows, derived from what they are about.

Derived ids are what make timers exact-once across crashes: a timer started twice by the
same delivery, or an event emitted again after a crash between two transactions, has the
same id and is ignored by the store, and downstream sees the same `webhook-id`.
"""

from __future__ import annotations

from typing import Any

from connector.storage.scenario_keys import scenario_key
from connector.storage.scenario_records import SendKey
from schemas.ids import digest, event_id

SCENARIO_PROVIDER = "connector"
SCENARIO_SOURCE = "scenarios"


def recipient_key(data: dict[str, Any]) -> str | None:
    """The person an event is about: lower-cased address, else the ESP's id, else None."""
    recipient = data.get("recipient") or {}
    email = recipient.get("email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    person = recipient.get("id")
    return f"id:{person}" if isinstance(person, str) and person else None


def message_ids(data: dict[str, Any]) -> tuple[str, str]:
    """(message id, campaign id), each "" when the ESP does not say."""
    message = data.get("message") or {}
    return (message.get("id") or "", message.get("campaign_id") or "")


def send_of(data: dict[str, Any]) -> SendKey:
    """The send a per-recipient group or re-entry counts by: the campaign, else the message."""
    message_id, campaign_id = message_ids(data)
    return SendKey("campaign", campaign_id) if campaign_id else SendKey("message", message_id)


def config_check_id(rule_id: str, send: SendKey, due_at: float) -> str:
    return "chk_" + digest("config", rule_id, send.kind, send.id, repr(due_at))


def api_check_id(rule_id: str, send: SendKey, due_at: float) -> str:
    return "chk_" + digest("api", rule_id, send.kind, send.id, repr(due_at))


def delivery_timer_id(rule_id: str, message_id: str, recipient: str) -> str:
    """One per rule, recipient and message, however often the delivery is reported."""
    return "tmr_" + digest("delivery", rule_id, message_id, recipient)


def early_click_key(rule_id: str, recipient: str, message_id: str) -> str:
    """Where a click that came before its delivery waits for it (the `entries` table),
    of the keys as stored, so the engine and a firing timer name the same row."""
    return f"early:{rule_id}:{scenario_key(recipient)}:{scenario_key(message_id)}"


def scheduled_event_id(timer_id: str, recipient: str) -> tuple[str, str]:
    """(`id`, `provider_event_id`) of the event a timer emits for one recipient."""
    provider_event_id = f"{timer_id}:{digest(recipient)}"
    return event_id(SCENARIO_PROVIDER, provider_event_id), provider_event_id
