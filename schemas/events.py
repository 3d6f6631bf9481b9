"""The public, versioned event schema: what downstream apps and no-code builders map from.

Every provider adapter produces these models and nothing else, so a rule, a body template or
a downstream app written against `email.clicked` works the same for every ESP. Fields that an
ESP does not send are `None`, never guessed. Changing a field's meaning needs a new
`SCHEMA_VERSION`; adding an optional field does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

# `metadata[BOT_HINT_KEY]` carries an ESP's own bot/robot classification of a click
# (Mailgun client-type, Mandrill user_agent_parsed.type, ...); the detector reads it.
BOT_HINT_KEY = "esp_bot_hint"

ClickType = Literal["email.clicked"]
DeliveredType = Literal["email.delivered"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Recipient(_Model):
    email: str | None = Field(None, description="Recipient address as the ESP reports it.")
    id: str | None = Field(None, description="The ESP's id for the person.")


class Message(_Model):
    id: str | None = Field(None, description="The ESP's id for this message to this recipient.")
    campaign_id: str | None = Field(None, description="Campaign, broadcast or journey id.")
    subject: str | None = None
    link_count: int | None = Field(
        None, description="How many trackable links the message holds, when known."
    )


class Link(_Model):
    url: str = Field(description="The clicked destination exactly as the ESP sent it.")
    id: str | None = Field(None, description="The ESP's link id or label, when it has one.")
    host: str | None = Field(None, description="Lower-cased host of `url`.")
    position: int | None = Field(None, description="Zero-based link position in the message.")
    hidden: bool | None = Field(None, description="True for links a person cannot see (honeypots).")


class Client(_Model):
    user_agent: str | None = None
    ip: str | None = None
    http_method: str | None = Field(None, description="GET or HEAD, for our own redirect links.")


class BotReason(_Model):
    code: str = Field(description="Stable machine-readable reason, e.g. `ua.known_bot`.")
    points: int = Field(description="What this reason added to the score.")
    detail: str = Field(description="Human-readable explanation.")


class Bot(_Model):
    suspected: bool = False
    score: int = Field(0, ge=0, le=100)
    band: Literal["human", "unlikely", "possible", "likely", "certain"] = "human"
    phase: Literal["immediate", "settled"] = "immediate"
    reasons: list[BotReason] = Field(default_factory=list)
    version: str = Field("", description="Detector and data version that produced the verdict.")


class _Envelope(_Model):
    id: str = Field(description="Stable id: the same ESP event always gives the same id.")
    schema_version: str = SCHEMA_VERSION
    occurred_at: datetime = Field(description="When the ESP says it happened (UTC).")
    received_at: datetime = Field(description="When we received the webhook (UTC).")
    provider: str
    source: str = Field(description="The configured source id the webhook arrived on.")
    provider_event_id: str
    recipient: Recipient = Field(default_factory=Recipient)
    message: Message = Field(default_factory=Message)
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Tags and custom data the sender attached."
    )
    test: bool = Field(False, description="True for the ESP's test sends; rules skip them.")


class EmailClicked(_Envelope):
    type: ClickType = "email.clicked"
    link: Link
    client: Client = Field(default_factory=Client)
    bot: Bot = Field(default_factory=Bot)


class EmailDelivered(_Envelope):
    type: DeliveredType = "email.delivered"


Event = EmailClicked | EmailDelivered

EVENT_MODELS: dict[str, type[EmailClicked] | type[EmailDelivered]] = {
    "email.clicked": EmailClicked,
    "email.delivered": EmailDelivered,
}
