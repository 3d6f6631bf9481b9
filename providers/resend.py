"""Resend webhooks, delivered through Svix (Standard Webhooks signatures).

Delivery behaviour (https://resend.com/docs/dashboard/webhooks/introduction): one JSON event
object per POST (`type`, `created_at`, `data`). Success is any 2xx within about 15 seconds;
anything else (3xx included) is retried by Svix after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
10 h, then the message is marked failed; endpoints failing for days may be disabled. Delivery is
at least once, so events are de-duplicated by the `svix-id` header, which stays the same on
every attempt of one message (https://docs.svix.com/retries).

Authenticity (https://docs.svix.com/receiving/verifying-payloads/how-manual, the Standard
Webhooks spec): `svix-signature` holds space-separated `v1,<base64>` entries, each an
HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{raw body}` under the base64 part of the endpoint's
`whsec_...` secret. Generic Standard Webhooks senders use `webhook-id` / `webhook-timestamp` /
`webhook-signature`; both spellings are accepted. Every configured secret is tried.

Why not `standardwebhooks.Webhook.verify`: it reads the wall clock (`datetime.now`) with a fixed
5-minute tolerance, so a captured request could not be re-judged as it was received
(`request.received_at`), and it raises bare `ValueError`s on malformed signature entries. We use
the library's own `Webhook(secret)` (secret decoding) and `Webhook.sign` (the signature) and do
the constant-time comparison and time check here. A body that is not UTF-8 cannot be verified
(the library signs text); Svix only sends JSON.

Replay window: 5 minutes either way, the reference libraries' value. Svix signs each attempt
afresh with a new timestamp, so a tight window costs no retries. Override with
`timestamp_tolerance`.

Mapping: `email.clicked`, `email.delivered`, and `email.sent` as `email.sent`: "Event triggered
whenever the API request was successful. Resend will attempt to deliver the message to the
recipient's mail server" (https://resend.com/docs/webhooks/emails/sent). Sent and delivered
carry the same `data` (no event time of their own beyond the envelope's `created_at`, which is
used for both); a click's time is `data.click.timestamp`.

Event id: the `svix-id` header. Resend names no single recipient for multi-recipient sends, so
`recipient.email` is the first `data.to` entry and the full list goes to
`metadata["recipients"]` when there is more than one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from functools import partial
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from connector.errors import MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
from providers.normalize import agent, link_fields, load_json, origin, text, to_utc
from providers.signing import check_freshness, check_ip, parse_epoch
from schemas.compiled import CompiledEvent, build_event

name = "resend"
title = "Resend"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
DEFAULT_TOLERANCE = 300

# Resend `type` -> ours; https://resend.com/docs/dashboard/webhooks/event-types
# (`email.sent`: the API request succeeded and delivery will be attempted)
EVENT_TYPES: dict[str, str] = {
    "email.clicked": "email.clicked",
    "email.delivered": "email.delivered",
    "email.sent": "email.sent",
}
# Resend's test inbox addresses (delivered@resend.dev, ...) mark test sends;
# https://resend.com/docs/dashboard/emails/send-test-emails
_TEST_DOMAIN = "resend.dev"


def check_source(source: Source) -> list[str]:
    if not source.signing_keys:
        return ["signing_keys: Resend needs the endpoint's signing secret (whsec_...)"]
    return [
        f"signing_keys[{index}]: not a Svix secret (whsec_ + base64)"
        for index, secret in enumerate(source.signing_keys)
        if _webhook(secret) is None
    ]


def _webhook(secret: str) -> Webhook | None:
    try:
        return Webhook(secret)
    except (ValueError, RuntimeError, EmptyWebhookSecretError):  # binascii.Error is a ValueError
        return None


def _header(request: WebhookRequest, field: str) -> str | None:
    return request.header(f"svix-{field}") or request.header(f"webhook-{field}")


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    msg_id = _header(request, "id")
    if not msg_id:
        raise SignatureError("missing svix-id header")
    signed_at = parse_epoch(_header(request, "timestamp"), "svix-timestamp header")
    candidates = _signatures(_header(request, "signature"))
    try:
        body = request.body.decode("utf-8")
        when = datetime.fromtimestamp(signed_at, UTC)
    except (UnicodeDecodeError, OverflowError, OSError, ValueError):
        raise SignatureError("request cannot be verified (body or timestamp unreadable)") from None
    index = _matching_secret(source.signing_keys, candidates, msg_id, when, body)
    if index is None:
        raise SignatureError("svix-signature does not match any signing key")
    check_freshness(signed_at, request.received_at, source.timestamp_tolerance or DEFAULT_TOLERANCE)
    return Verified(credential=f"signing_keys[{index}]")


def _signatures(header: str | None) -> list[bytes]:
    """The `v1` entries of a signature header; other versions (`v1a`) and junk are skipped."""
    if not header:
        raise SignatureError("missing svix-signature header")
    found: list[bytes] = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise SignatureError("svix-signature has no v1 signature")
    return found


def _matching_secret(
    secrets: tuple[str, ...], candidates: list[bytes], msg_id: str, when: datetime, body: str
) -> int | None:
    found: int | None = None
    for index, secret in enumerate(secrets):
        webhook = _webhook(secret)
        if webhook is None:
            continue
        try:
            expected = base64.b64decode(webhook.sign(msg_id, when, body).split(",", 1)[1])
        except UnicodeEncodeError:  # lone surrogates in a header: nothing could have signed it
            raise SignatureError("svix-id header is not text") from None
        matched = any(hmac.compare_digest(expected, candidate) for candidate in candidates)
        if matched and found is None:
            found = index
    return found


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:27]  # deterministic per body
    webhook = Webhook(source.signing_keys[0])
    signature = webhook.sign(msg_id, now.astimezone(UTC), body.decode("utf-8"))
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": signature,
    }


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise MalformedPayload("expected a Resend event object")
    return collect([payload], _kind, partial(_event, request=request))


def _kind(item: dict[str, Any]) -> tuple[str | None, str]:
    event_type = text(item.get("type"))
    return EVENT_TYPES.get(event_type or ""), str(event_type)


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    provider_event_id = _header(request, "id")
    if provider_event_id is None:
        raise MalformedPayload("svix-id header is missing")
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    assert isinstance(data, dict)
    recipients = _recipients(data.get("to"))
    email = recipients[0] if recipients else None
    common: dict[str, Any] = {
        "recipient": {"email": email},
        "message": {
            "id": text(data.get("email_id")),
            "campaign_id": text(data.get("broadcast_id")),
            "subject": text(data.get("subject")),
        },
        "metadata": _metadata(data, recipients),
        "test": bool(email and email.rpartition("@")[2].lower() == _TEST_DOMAIN),
    }
    if kind != "email.clicked":  # delivered and sent share the envelope fields
        occurred_at = to_utc(item.get("created_at"))
        return build_event(
            kind, {**origin(name, request, provider_event_id, occurred_at), **common}
        )
    click = data.get("click") if isinstance(data.get("click"), dict) else {}
    assert isinstance(click, dict)
    url = text(click.get("link"))
    if url is None:
        raise MalformedPayload("clicked event has no data.click.link")
    # the click's own time; the envelope's created_at is when Resend queued the webhook
    occurred_at = to_utc(click.get("timestamp") or item.get("created_at"))
    fields = {**origin(name, request, provider_event_id, occurred_at), **common}
    fields["link"] = link_fields(url)
    fields["client"] = {
        "user_agent": agent(click.get("userAgent")),
        "ip": text(click.get("ipAddress")),
    }
    return build_event(kind, fields)


def _recipients(value: Any) -> list[str]:
    """`data.to` as bare addresses (it is a list in the docs; tolerate a single string)."""
    items = value if isinstance(value, list) else [value]
    found = [parseaddr(entry)[1] or entry for entry in (text(item) for item in items) if entry]
    return [entry for entry in found if entry]


def _metadata(data: dict[str, Any], recipients: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    tags = _tags(data.get("tags"))
    if tags:
        found["tags"] = tags
    if text(data.get("template_id")):
        found["template_id"] = data["template_id"]
    if len(recipients) > 1:
        found["recipients"] = recipients
    return found


def _tags(value: Any) -> dict[str, Any]:
    """Tags are an object in current payloads; older ones sent `[{"name":..,"value":..}]`."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        pairs = (tag for tag in value if isinstance(tag, dict) and text(tag.get("name")))
        return {str(tag["name"]): tag.get("value") for tag in pairs}
    return {}
