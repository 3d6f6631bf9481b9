"""How events are matched up: message, recipient and link keys, and event times in seconds.

A click finds its delivery by the ESP's message id (else recipient + campaign), scoped by
provider; links are told apart by position, else the ESP's link id, else the URL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from schemas.views import ClickView, EventView

# Keys are indexed (PostgreSQL holds an index row of at most 2,704 bytes): one over this
# length, from an ESP id of kilobytes, is kept as its start and a hash of the whole.
MAX_KEY = 256


def message_key(event: EventView) -> str:
    """Links a click to its delivery: the ESP's message id, else recipient + campaign."""
    if event.message.id:
        key = f"{event.provider}\x1f{event.message.id}"
        return bounded(key) if key[MAX_KEY:] else key  # inlined (a slice, no call): hot
    recipient = event.recipient.email or event.recipient.id
    if recipient and event.message.campaign_id:
        return bounded(f"{event.provider}\x1f{recipient.lower()}\x1f{event.message.campaign_id}")
    return ""


def campaign_key(event: EventView) -> str:
    """The campaign across its recipients (provider-scoped), "" when the event names none."""
    campaign = event.message.campaign_id
    if not campaign:
        return ""
    key = f"{event.provider}\x1f{campaign}"
    return bounded(key) if key[MAX_KEY:] else key


ANONYMOUS = "\x1fanonymous"


def recipient_key(click: ClickView) -> str:
    """The person behind a click, for counting recipients per address. Clicks that name
    nobody (a trigger link without a contact token) are one unknown person: each its own
    recipient would make a carrier's shared address look like a scanner clicking for many."""
    recipient = click.recipient.email or click.recipient.id
    if not recipient:
        return message_key(click) or ANONYMOUS
    key = recipient.lower()
    return bounded(key) if key[MAX_KEY:] else key


def bounded(key: str) -> str:
    """`key` as it is up to `MAX_KEY` characters; a longer one cut, with a hash of it all."""
    if len(key) <= MAX_KEY:
        return key
    return f"{key[: MAX_KEY - 33]}\x1f{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def link_key(click: ClickView) -> str:
    """Which link of the message was clicked."""
    if click.link.position is not None:
        return f"p{click.link.position}"
    if click.link.id:
        return f"i{click.link.id}"
    return "u" + click.link.url.split("#", 1)[0][:512]


def epoch_seconds(moment: datetime) -> float:
    """Epoch seconds of a schema time; naive times are UTC, as the schema promises."""
    return aware(moment).timestamp()


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
