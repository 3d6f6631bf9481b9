"""Public event models for Click Connector (imports nothing of ours)."""

from schemas.events import (
    BOT_HINT_KEY,
    EVENT_MODELS,
    SCHEMA_VERSION,
    Bot,
    BotReason,
    Client,
    EmailClicked,
    EmailClickTimeout,
    EmailDelivered,
    EmailNotClicked,
    EmailSent,
    Event,
    Link,
    Message,
    Recipient,
    Scenario,
    Send,
)
from schemas.ids import composite_key, event_id

__all__ = [
    "BOT_HINT_KEY",
    "EVENT_MODELS",
    "SCHEMA_VERSION",
    "Bot",
    "BotReason",
    "Client",
    "EmailClickTimeout",
    "EmailClicked",
    "EmailDelivered",
    "EmailNotClicked",
    "EmailSent",
    "Event",
    "Link",
    "Message",
    "Recipient",
    "Scenario",
    "Send",
    "composite_key",
    "event_id",
]
