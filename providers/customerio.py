"""Customer.io reporting webhooks.

Delivery behaviour (https://docs.customer.io/api/webhooks/): one JSON event object per POST
(an array is accepted too); success is any 2xx within 4 seconds; otherwise Customer.io
retries with exponential backoff for up to 7 days and holds back every later webhook behind
the failing one; after 400, 401, 402, 403, 404, 405, 410, 429, 500, 502 or 521 it waits an
hour before retrying. So we acknowledge every authentic call quickly, including metrics we
do not handle.

Mapping: an email event is the pair (`object_type`, `metric`); the same metric exists for
SMS, push and in-app messages, so only `email` pairs count. `sent` and `delivered` are distinct
steps (https://docs.customer.io/journeys/message-statuses/): "Sent means that your message has
successfully made it from Customer.io to your delivery provider", while Delivered waits for the
provider to confirm receipt. So `sent` becomes `email.sent` (the send's recipient, before any
delivery report) and `delivered` becomes `email.delivered`.

Authenticity: `X-CIO-Signature` is the hex HMAC-SHA256, under the webhook's signing key, of
`v0:{X-CIO-Timestamp}:{raw body}`.

Replay window: Customer.io does not document whether a retry carries a fresh timestamp, and
it retries for 7 days, so the default tolerance is 7 days (plus 5 minutes of clock skew into
the future). A replay inside that window is harmless: events are de-duplicated by
`event_id`, and dedup keys are kept longer than the window. Tighten `timestamp_tolerance`
once you have seen your account's retries carry fresh timestamps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
from providers.normalize import link_fields, load_json, origin, text, to_utc
from providers.signing import (
    blank_credential_problems,
    check_freshness,
    decode_hex,
    hmac_digest,
    matching_key,
    parse_epoch,
)
from schemas.compiled import CompiledEvent, build_event

name = "customerio"
title = "Customer.io"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
DEFAULT_TOLERANCE = 7 * 24 * 3600

# (object_type, metric) -> our event type; https://docs.customer.io/api/webhooks/ and, for
# what `sent` and `delivered` mean, https://docs.customer.io/journeys/message-statuses/
EVENT_TYPES: dict[tuple[str, str], str] = {
    ("email", "clicked"): "email.clicked",
    ("email", "delivered"): "email.delivered",
    ("email", "sent"): "email.sent",
}


def check_source(source: Source) -> list[str]:
    if source.signing_keys:
        return blank_credential_problems(source)
    return ["signing_keys: Customer.io needs the reporting webhook's signing key"]


def _signed_message(timestamp: str, body: bytes) -> bytes:
    return b"v0:" + timestamp.encode("ascii", "replace") + b":" + body


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    signature = decode_hex(request.header("x-cio-signature"), "X-CIO-Signature header")
    timestamp = request.header("x-cio-timestamp")
    signed_at = parse_epoch(timestamp, "X-CIO-Timestamp header")
    assert timestamp is not None  # parse_epoch raised otherwise
    index = matching_key(source.signing_keys, signature, _signed_message(timestamp, request.body))
    if index is None:
        raise SignatureError("X-CIO-Signature does not match any signing key")
    tolerance = source.timestamp_tolerance or DEFAULT_TOLERANCE
    check_freshness(signed_at, request.received_at, tolerance)
    return Verified(credential=f"signing_keys[{index}]")


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    digest = hmac_digest(source.signing_keys[0], _signed_message(timestamp, body)).hex()
    return {"X-CIO-Timestamp": timestamp, "X-CIO-Signature": digest}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    items = payload if isinstance(payload, list) else [payload]
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedPayload("expected a Customer.io event object")
    return collect(items, _kind, partial(_event, request=request))


def _kind(item: dict[str, Any]) -> tuple[str | None, str]:
    object_type, metric = item.get("object_type"), item.get("metric")
    return EVENT_TYPES.get((str(object_type), str(metric))), f"{object_type}.{metric}"


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    provider_event_id = text(item.get("event_id"))
    if provider_event_id is None:
        raise MalformedPayload("event_id is missing")
    data = item.get("data")
    if not isinstance(data, dict):
        data = {}
    identifiers = data.get("identifiers")
    if not isinstance(identifiers, dict):
        identifiers = {}
    fields: dict[str, Any] = origin(name, request, provider_event_id, to_utc(item.get("timestamp")))
    fields["recipient"] = {
        "email": text(data.get("recipient")) or text(identifiers.get("email")),
        "id": text(data.get("customer_id")) or text(identifiers.get("id")),
    }
    fields["message"] = {
        "id": text(data.get("delivery_id")),
        "campaign_id": _campaign(data),
        "subject": text(data.get("subject")),
    }
    fields["metadata"] = _metadata(data)
    if kind == "email.clicked":
        href = text(data.get("href"))
        if href is None:
            raise MalformedPayload("clicked event has no data.href")
        fields["link"] = link_fields(href, id=data.get("link_id"))
    return build_event(kind, fields)


_CAMPAIGN_KEYS = ("campaign_id", "broadcast_id", "newsletter_id", "transactional_message_id")
_METADATA_KEYS = (*_CAMPAIGN_KEYS, "action_id", "content_id", "trigger_event_id")


def _campaign(data: dict[str, Any]) -> str | None:
    for key in _CAMPAIGN_KEYS:
        value = text(data.get(key))
        if value is not None:
            return value
    return None


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {key: data[key] for key in _METADATA_KEYS if data.get(key) is not None}
    if isinstance(data.get("identifiers"), dict):
        found["identifiers"] = data["identifiers"]
    return found
