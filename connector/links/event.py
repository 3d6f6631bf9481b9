"""The `link.clicked` event of one click, built and encoded as ingest stores events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from connector.storage.base import EventRecord
from connector.storage.link_records import TriggerLink
from providers.canonical import canonical_url
from providers.normalize import link_fields
from schemas.compiled import build_event
from schemas.events import PURPOSE_KEY
from schemas.ids import event_id

PROVIDER = "trigger"
SOURCE = "links"  # the envelope's `source` of every trigger-link click


@dataclass(frozen=True, slots=True)
class Click:
    """What the request tells about one click."""

    link: TriggerLink
    url: str  # where the person is sent
    contact: str | None  # from a verified token
    user_agent: str | None
    ip: str | None
    method: str
    prefetch: bool
    at: datetime


def click_record(click: Click, ignore_params: frozenset[str] = frozenset()) -> EventRecord:
    """The stored form: a fresh id per click (two clicks are two events)."""
    unique = uuid.uuid4().hex
    fields = link_fields(click.url, id=click.link.slug)
    if ignore_params:
        fields["canonical"] = canonical_url(click.url, ignore_params)
    event = build_event(
        "link.clicked",
        {
            "id": event_id(PROVIDER, unique),
            "occurred_at": click.at,
            "received_at": click.at,
            "provider": PROVIDER,
            "source": SOURCE,
            "provider_event_id": unique,
            "recipient": {"id": click.contact},
            "metadata": {PURPOSE_KEY: "prefetch"} if click.prefetch else {},
            "link": fields,
            "client": {"user_agent": click.user_agent, "ip": click.ip, "http_method": click.method},
            "trigger": {
                "slug": click.link.slug,
                "name": click.link.name,
                "contact_verified": click.contact is not None,
            },
        },
    )
    return EventRecord.of(event, click.at.timestamp())
