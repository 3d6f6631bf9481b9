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
# `metadata[PURPOSE_KEY]` = "prefetch" on a trigger-link click whose request said it was a
# prefetch (`Purpose: prefetch` / `Sec-Purpose: prefetch`): a browser guessing, not a person.
PURPOSE_KEY = "request_purpose"

ClickType = Literal["email.clicked"]
DeliveredType = Literal["email.delivered"]
SentType = Literal["email.sent"]
NotClickedType = Literal["email.not_clicked"]
ClickTimeoutType = Literal["email.click_timeout"]
LinkClickType = Literal["link.clicked"]


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
    canonical: str | None = Field(
        None,
        description=(
            "`url` as people think of it: scheme and host lower-cased, default port, trailing"
            " slash, fragment and tracking parameters (utm_*, ESP click ids) removed, the"
            " other query parameters sorted. Rules' `links` patterns match it."
        ),
    )
    id: str | None = Field(None, description="The ESP's link id or label, when it has one.")
    host: str | None = Field(None, description="Lower-cased host of `url`.")
    position: int | None = Field(None, description="Zero-based link position in the message.")
    hidden: bool | None = Field(None, description="True for links a person cannot see (honeypots).")


class Client(_Model):
    user_agent: str | None = Field(
        None,
        description='The clicker\'s User-Agent; `""` when the click came without one, null when '
        "the ESP does not report it (Customer.io, MailerSend, older Brevo payloads).",
    )
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


class Send(_Model):
    """What a scenario points at: one message, or a campaign with all its messages."""

    message_id: str | None = None
    campaign_id: str | None = None


class Scenario(_Model):
    """Which rule and check produced a scheduled event, for which send."""

    rule: str = Field(description="The rule that produced this event.")
    trigger: Literal["clicked_by", "not_clicked", "wait"]
    check: str = Field(description="Stable id of the check or wait (its timer).")
    send: Send = Field(default_factory=Send)
    due_at: datetime = Field(description="The check's verification time or the wait's end.")
    started_at: datetime | None = Field(
        None, description="When a per-delivery check or a wait started (the delivery)."
    )


class EmailClicked(_Envelope):
    type: ClickType = "email.clicked"
    link: Link
    client: Client = Field(default_factory=Client)
    bot: Bot = Field(default_factory=Bot)
    scenario: Scenario | None = Field(
        None, description="Set on the copy a `clicked_by` check delivers at its time."
    )


class EmailDelivered(_Envelope):
    type: DeliveredType = "email.delivered"


class EmailSent(_Envelope):
    """The ESP accepted or sent the message (before any delivery report)."""

    type: SentType = "email.sent"


class EmailNotClicked(_Envelope):
    """A recipient of a send made no qualifying click before the check's time."""

    type: NotClickedType = "email.not_clicked"
    scenario: Scenario


class EmailClickTimeout(_Envelope):
    """A wait for a click ended without one."""

    type: ClickTimeoutType = "email.click_timeout"
    scenario: Scenario


class Trigger(_Model):
    """Which trigger link was followed, and whether its contact token checked out."""

    slug: str = Field(description="The link's slug: its URL is /t/<slug>.")
    name: str = Field(description="The link's name as configured.")
    contact_verified: bool = Field(
        False,
        description=(
            "True when the URL carried a valid signed contact token; the click is then"
            " `recipient.id`'s. False: an anonymous click (no, unknown or tampered token)."
        ),
    )


class LinkClicked(_Envelope):
    """Someone followed one of our own trigger links (`GET /t/<slug>`): provider `trigger`,
    `link.id` the slug, `link.url` the destination they were sent to, `recipient.id` the
    contact of a verified token (else none)."""

    type: LinkClickType = "link.clicked"
    link: Link
    client: Client = Field(default_factory=Client)
    bot: Bot = Field(default_factory=Bot)
    trigger: Trigger


Event = (
    EmailClicked | EmailDelivered | EmailSent | EmailNotClicked | EmailClickTimeout | LinkClicked
)
EventModel = (
    type[EmailClicked]
    | type[EmailDelivered]
    | type[EmailSent]
    | type[EmailNotClicked]
    | type[EmailClickTimeout]
    | type[LinkClicked]
)

EVENT_MODELS: dict[str, EventModel] = {
    "email.clicked": EmailClicked,
    "email.delivered": EmailDelivered,
    "email.sent": EmailSent,
    "email.not_clicked": EmailNotClicked,
    "email.click_timeout": EmailClickTimeout,
    "link.clicked": LinkClicked,
}
# Click events: the bot detector scores them, reports count them.
CLICK_TYPES = frozenset({"email.clicked", "link.clicked"})
# Events the scenario engine makes: never observed by the bot detector, routed by their rule.
SCHEDULED_TYPES = frozenset({"email.not_clicked", "email.click_timeout"})
