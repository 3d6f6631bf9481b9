"""Mailgun webhooks (current JSON format, plus the legacy form-encoded one).

Delivery behaviour: one event per POST, `{"signature": {...}, "event-data": {...}}` as JSON.
`200` is success and `406 Not Acceptable` rejects the POST for good; any other code is retried
for 8 hours at 5 min, 10 min, 15 min, 1 h, 2 h and 4 h (except `delivered` events, which are
never retried). Timeout: not documented.
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-retries
We never answer 406, so an error of ours on Mailgun's side is retried.

Authenticity: `signature.signature` is hex HMAC-SHA256, under the webhook signing key, of
`signature.timestamp` + `signature.token`; events of a subaccount also carry
`parent-signature`, the same HMAC under the primary account's key, so either may match a
key in `signing_keys`.
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
The body itself is not signed: `verify` returns the token as a nonce with the body digest,
and the store refuses a token it has seen with a different body (a replayed signature block
on forged `event-data`) while a genuine retry stays an acknowledged duplicate. `sign` returns
no headers: the signature lives in the body, so `send-sample` posts the stored signed body.

Replay window: Mailgun does not say whether retries are signed afresh and retries for 8 hours,
so the default tolerance is 9 hours (8 hours plus one of margin).

Mapping: `clicked`, `delivered`, and `accepted` as `email.sent`: "Mailgun accepted the request
to send/forward the email and the message has been placed in queue", one event per recipient,
before `delivered`/`failed`; the webhooks page lists `accepted` among the webhook events:
https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhooks
All three read the recipient, message id, subject, campaign, tags and user variables the same
way. Legacy (form) webhooks never had an `accepted` hook.

Event ids: `event-data.id` (Mailgun: "unique within a day"; it is a random 22-character id,
so a collision across days is not a practical concern). Legacy posts carry no event id:
`composite_key(message-id, recipient, url, timestamp)`.

Legacy webhooks (before mid-2018) post the event as `application/x-www-form-urlencoded` fields
with `token`/`timestamp`/`signature` and user variables merged in; the event fields come
first and user variables after them, except that Mailgun's own signature fields come last
(django-anymail, anymail/webhooks/mailgun.py). Multipart legacy posts (events that carry the
message, e.g. bounces) are not read: they are refused as malformed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, by_field, collect
from providers.normalize import (
    agent,
    dig,
    link_fields,
    load_form,
    load_json,
    origin,
    tags,
    text,
    to_utc,
    url_field,
)
from providers.signing import (
    blank_credential_problems,
    body_digest,
    check_freshness,
    decode_hex,
    hmac_digest,
    matching_key,
    parse_epoch,
)
from schemas import BOT_HINT_KEY, composite_key
from schemas.compiled import CompiledEvent, build_event

name = "mailgun"
title = "Mailgun"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
DEFAULT_TOLERANCE = 9 * 3600

# `event-data.event` (and legacy `event`) -> our type;
# https://documentation.mailgun.com/docs/mailgun/user-manual/events/event-types
# (`accepted`: queued by Mailgun for delivery, so `email.sent`)
EVENT_TYPES: dict[str, str] = {
    "clicked": "email.clicked",
    "delivered": "email.delivered",
    "accepted": "email.sent",
}

# Legacy form fields that are Mailgun's own; every other field is a user variable.
LEGACY_KEYS = frozenset(
    {
        *("event", "recipient", "domain", "ip", "country", "region", "city", "user-agent"),
        *("device-type", "client-type", "client-name", "client-os", "campaign-id"),
        *("campaign-name", "tag", "mailing-list", "timestamp", "token", "signature"),
        *("body-plain", "h", "message-id", "Message-Id", "message-headers", "url"),
        *("X-Mailgun-Tag", "X-Mailgun-Sid"),
    }
)


def check_source(source: Source) -> list[str]:
    if source.signing_keys:
        return blank_credential_problems(source)
    return ["signing_keys: Mailgun needs the HTTP webhook signing key"]


def _is_form(request: WebhookRequest) -> bool:
    content_type = (request.header("content-type") or "").lower()
    if "json" in content_type:
        return False
    return "form" in content_type or not request.body.lstrip().startswith(b"{")


def _signature_fields(request: WebhookRequest) -> dict[str, Any]:
    """The signed `token`/`timestamp` and the signatures, from either wire format."""
    try:
        if _is_form(request):
            return dict(load_form(request.body))  # last value wins: Mailgun's own
        block = dig(load_json(request.body), "signature")
    except MalformedPayload:
        raise SignatureError("body holds no Mailgun signature") from None
    if not isinstance(block, dict):
        raise SignatureError("body holds no Mailgun signature object")
    return block


def _exact(value: Any) -> str | None:
    """A signed field exactly as Mailgun sent it (it signs the text, so never strip it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    fields = _signature_fields(request)
    token, timestamp = _exact(fields.get("token")), _exact(fields.get("timestamp"))
    if token is None:
        raise SignatureError("missing signature token")
    signed_at = parse_epoch(timestamp, "signature timestamp")
    message = f"{timestamp}{token}".encode("utf-8", "replace")
    matches = (matching_key(source.signing_keys, sig, message) for sig in _signatures(fields))
    index = next((found for found in matches if found is not None), None)
    if index is None:
        raise SignatureError("Mailgun signature does not match any signing key")
    check_freshness(signed_at, request.received_at, source.timestamp_tolerance or DEFAULT_TOLERANCE)
    return Verified(
        credential=f"signing_keys[{index}]", nonce=token, body_digest=body_digest(request.body)
    )


def _signatures(fields: Mapping[str, Any]) -> list[bytes]:
    """`signature`, then a subaccount event's `parent-signature` when it has one."""
    found = [decode_hex(_exact(fields.get("signature")), "signature")]
    parent = _exact(fields.get("parent-signature"))
    if parent is not None:
        with suppress(ValueError):  # a broken parent signature: the primary one decides
            found.append(bytes.fromhex(parent))
    return found


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """No headers: Mailgun signs fields inside the body (see `sign_body`)."""
    return {}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """`body` (current JSON format) with a fresh `signature` block, as Mailgun would send it.

    Used by `connector send-sample`, because a stored sample's timestamp is soon outside the
    replay window. A fresh random token keeps the nonce check from refusing a re-send.
    """
    payload = load_json(body)
    if not isinstance(payload, dict) or not source.signing_keys:
        raise MalformedPayload("expected Mailgun's JSON format and a signing key")
    timestamp, token = str(int(now.timestamp())), secrets.token_hex(25)
    digest = hmac_digest(source.signing_keys[0], (timestamp + token).encode()).hex()
    payload["signature"] = {"timestamp": timestamp, "token": token, "signature": digest}
    return json.dumps(payload).encode()


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    if _is_form(request):
        return _parse_legacy(request)
    payload = load_json(request.body)
    data = payload.get("event-data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise MalformedPayload("expected Mailgun's {signature, event-data} object")
    return collect([payload], _kind, partial(_event, request=request))


def _kind(payload: dict[str, Any]) -> tuple[str | None, str]:
    return by_field(EVENT_TYPES, "event", payload["event-data"])


def _parse_legacy(request: WebhookRequest) -> ParseResult:
    """A legacy form is a list of fields, not an object, so it is judged here, not `collect`ed."""
    fields = load_form(request.body)
    if _first(fields, "event") is None:
        raise MalformedPayload("expected Mailgun's legacy form with an event field")
    result = ParseResult()
    kind = EVENT_TYPES.get(str(_first(fields, "event")))
    if kind is None:
        result.ignored.append(str(_first(fields, "event")))
    else:
        result.add(0, fields, partial(_legacy_event, kind, fields, request))
    return result


def _event(kind: str, payload: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    data: dict[str, Any] = payload["event-data"]  # checked to be an object by `parse`
    message_id = text(dig(data, "message", "headers", "message-id"))
    url = url_field(data.get("url"))
    provider_event_id = text(data.get("id")) or composite_key(
        message_id, text(data.get("recipient")), url, data.get("timestamp")
    )
    user_variables = data.get("user-variables")
    common = _common(request, provider_event_id, data.get("timestamp"), data.get("recipient"))
    common["message"] = {
        "id": message_id,
        "campaign_id": text(dig(data, "campaigns", 0, "id")),
        "subject": text(dig(data, "message", "headers", "subject")),  # not on clicks
    }
    common["metadata"] = _metadata(user_variables, tags(data.get("tags")))
    common["test"] = dig(data, "flags", "is-test-mode") is True
    if kind != "email.clicked":  # delivered and accepted share the envelope fields
        return build_event(kind, common)
    if url is None:
        raise MalformedPayload("clicked event has no url")
    user_agent = agent(dig(data, "client-info", "user-agent"))
    client_type = text(dig(data, "client-info", "client-type"))  # e.g. "browser", "robot"
    if client_type:
        common["metadata"][BOT_HINT_KEY] = client_type.lower()
    common["link"] = link_fields(url)
    common["client"] = {"user_agent": user_agent, "ip": text(data.get("ip"))}
    return build_event("email.clicked", common)


def _legacy_event(
    kind: str, fields: list[tuple[str, str]], request: WebhookRequest
) -> CompiledEvent:
    message_id = text(_first(fields, "message-id") or _first(fields, "Message-Id"))
    message_id = message_id.strip("<>") if message_id else None
    recipient, url = _first(fields, "recipient"), url_field(_first(fields, "url"))
    timestamp = _last(fields, "timestamp")
    provider_event_id = composite_key(message_id, recipient, url, timestamp)
    common = _common(request, provider_event_id, timestamp, recipient)
    common["message"] = {"id": message_id, "campaign_id": text(_first(fields, "campaign-id"))}
    labels = [v for k, v in fields if k == "tag"] or [v for k, v in fields if k == "X-Mailgun-Tag"]
    variables = {key: value for key, value in fields if key not in LEGACY_KEYS}
    common["metadata"] = _metadata(variables, tags(labels))
    if kind != "email.clicked":
        return build_event(kind, common)
    if url is None:
        raise MalformedPayload("clicked event has no url")
    common["link"] = link_fields(url)
    common["client"] = {
        "user_agent": agent(_first(fields, "user-agent")),
        "ip": text(_first(fields, "ip")),
    }
    return build_event("email.clicked", common)


def _common(
    request: WebhookRequest, provider_event_id: str, timestamp: Any, recipient: Any
) -> dict[str, Any]:
    """The fields both wire formats fill alike."""
    return {
        **origin(name, request, provider_event_id, to_utc(timestamp)),
        "recipient": {"email": text(recipient)},
    }


def _metadata(variables: Any, labels: list[str]) -> dict[str, Any]:
    """User variables, plus the message's tags under `tags`."""
    found: dict[str, Any] = dict(variables) if isinstance(variables, dict) else {}
    if labels:
        found["tags"] = labels
    return found


def _first(fields: list[tuple[str, str]], key: str) -> str | None:
    return next((value for name_, value in fields if name_ == key), None)


def _last(fields: list[tuple[str, str]], key: str) -> str | None:
    return next((value for name_, value in reversed(fields) if name_ == key), None)
