"""MailerSend activity webhooks.

Delivery behaviour (https://developers.mailersend.com/api/v1/webhooks.html): one JSON event
object per POST. A webhook that fails 10 times within 24 hours triggers a notification; at 20
failures in 24 hours it is paused until re-enabled, so answer fast and never fail an authentic
call. The retry schedule, timeout and success codes are not documented (assume 2xx). Creating a
webhook sends a `{"type": "webhook.test", ...}` ping, acknowledged as ignored.

Two payload shapes exist (django-anymail handles both): v1 nests the email under `data.email`
and the click under `data.morph` (`url`, `ip`); v2 is flat (`data.recipient`,
`data.message_id`, `data.subject`, `data.tags`) with click details in `data.meta` (`url`, `ip`,
`user_agent`) and the event time in the envelope's `created_at`. MailerSend escapes `/` as `\\/`
in its JSON; harmless for parsing, and the signature covers the raw bytes anyway.

Authenticity: the `Signature` header is the hex HMAC-SHA256 of the raw body under the webhook's
signing secret (one per webhook; several accepted while rotating). An optional `allowed_ips`
list is enforced first.

Replay window: none by default. MailerSend signs no timestamp, and because its retry schedule is
undocumented a window on the (signed) body time could refuse genuine late retries. Events are
de-duplicated by `data.id`. Setting `timestamp_tolerance` opts in to a window on the signed
body's `created_at`.

Mapping: the chosen click event, `activity.delivered`, and `activity.sent` as `email.sent`:
"Fired when your email is sent from our sending servers. We are now waiting for a response
from the receiving servers" (the available events table of the webhooks page above). Sent and
delivered carry the same email and recipient objects, so they are read alike.

Clicks: `activity.clicked` fires for every click, `activity.clicked_unique` for the first click
on a link only (v2 sends `data.type: "clicked"` for both). By default (`options.click_event =
"both"`) both become `email.clicked`, and an event from `activity.clicked_unique` carries
`metadata["unique_click"] = true`, so a webhook subscribed to unique clicks only is not
silently dropped and rules can tell first clicks apart. `options.click_event =
"activity.clicked"` turns unique clicks off (acknowledged as ignored, as before: keeps only
every-click events for bot scoring); `"activity.clicked_unique"` keeps only first clicks. A
webhook subscribed to both sends one click twice; both carry the same activity `data.id` in the
samples we have, so the second is an acknowledged duplicate (which one is stored, and so whether
it is marked unique, depends on arrival order). MailerSend does not document that the ids
match, so choose one of the two where it matters. Event id: `data.id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
from providers.normalize import dig, link_fields, load_json, origin, tags, text, to_utc
from providers.signing import (
    blank_credential_problems,
    check_freshness,
    check_ip,
    decode_hex,
    hmac_digest,
    matching_key,
)
from schemas.compiled import CompiledEvent, build_event

name = "mailersend"
title = "MailerSend"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
CLICK_EVENTS = ("activity.clicked", "activity.clicked_unique")
UNIQUE_CLICK = "activity.clicked_unique"
CLICK_CHOICES = ("both", *CLICK_EVENTS)  # options.click_event; "both" is the default

# MailerSend `type` -> ours (the chosen click events are added per source);
# https://developers.mailersend.com/api/v1/webhooks.html#available-events
# (`activity.sent`: left MailerSend's servers, no reply from the receiver yet: `email.sent`)
EVENT_TYPES: dict[str, str] = {
    "activity.delivered": "email.delivered",
    "activity.sent": "email.sent",
}


def check_source(source: Source) -> list[str]:
    problems: list[str] = []
    if not source.signing_keys:
        problems.append("signing_keys: MailerSend needs the webhook's signing secret")
    if source.options.get("click_event", CLICK_CHOICES[0]) not in CLICK_CHOICES:
        problems.append(f"options.click_event: must be one of {', '.join(CLICK_CHOICES)}")
    return problems + blank_credential_problems(source)


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    signature = decode_hex(request.header("signature"), "Signature header")
    index = matching_key(source.signing_keys, signature, request.body)
    if index is None:
        raise SignatureError("Signature does not match any signing key")
    if source.timestamp_tolerance:
        check_freshness(_signed_time(request.body), request.received_at, source.timestamp_tolerance)
    return Verified(credential=f"signing_keys[{index}]")


def _signed_time(body: bytes) -> float:
    """The body's own event time, usable as a replay bound because the signature covers it."""
    try:
        payload = load_json(body)
        data = payload.get("data") if isinstance(payload, dict) else None
        created = dig(data, "created_at") or dig(payload, "created_at")
        return to_utc(created).timestamp()
    except MalformedPayload:
        raise SignatureError("signed body has no readable created_at") from None


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    return {"Signature": hmac_digest(source.signing_keys[0], body).hex()}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise MalformedPayload("expected a MailerSend event object")
    types = {**EVENT_TYPES, **dict.fromkeys(_click_events(source), "email.clicked")}
    return collect([payload], partial(_kind, types), partial(_event, request=request))


def _kind(types: dict[str, str], item: dict[str, Any]) -> tuple[str | None, str]:
    kind_name = text(item.get("type")) or ""
    return types.get(kind_name), kind_name or "None"


def _click_events(source: Source) -> tuple[str, ...]:
    chosen = source.options.get("click_event")
    return (chosen,) if chosen in CLICK_EVENTS else CLICK_EVENTS


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    data = item.get("data")
    if not isinstance(data, dict):
        raise MalformedPayload("event has no data object")
    provider_event_id = text(data.get("id"))
    if provider_event_id is None:
        raise MalformedPayload("data.id is missing")
    fields = _v1(data) if isinstance(data.get("email"), dict) else _v2(data)
    occurred_at = to_utc(data.get("created_at") or item.get("created_at"))
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, occurred_at),
        "recipient": {"email": fields["email"], "id": fields["recipient_id"]},
        "message": {"id": fields["message_id"], "subject": fields["subject"]},
        "metadata": {"tags": fields["tags"]} if fields["tags"] else {},
    }
    if kind != "email.clicked":  # delivered and sent share the envelope fields
        return build_event(kind, common)
    if fields["url"] is None:
        raise MalformedPayload("clicked event has no URL (data.morph.url / data.meta.url)")
    if item.get("type") == UNIQUE_CLICK:
        common["metadata"]["unique_click"] = True  # the first click on this link
    common["link"] = link_fields(fields["url"])
    common["client"] = {"user_agent": fields["user_agent"], "ip": fields["ip"]}
    return build_event(kind, common)


def _v1(data: dict[str, Any]) -> dict[str, Any]:
    """The nested v1 shape: `data.email.{message,recipient}` and `data.morph` for the click."""
    return {
        "email": text(dig(data, "email", "recipient", "email")),
        "recipient_id": text(dig(data, "email", "recipient", "id")),
        "message_id": text(dig(data, "email", "message", "id")),
        "subject": text(dig(data, "email", "subject")),
        "tags": tags(dig(data, "email", "tags")),
        "url": text(dig(data, "morph", "url")),
        "ip": text(dig(data, "morph", "ip")),
        "user_agent": text(dig(data, "morph", "user_agent")),
    }


def _v2(data: dict[str, Any]) -> dict[str, Any]:
    """The flat v2 shape; `data.meta` is `[]` when empty, which `dig` reads as missing."""
    return {
        "email": text(data.get("recipient")),
        "recipient_id": None,
        "message_id": text(data.get("message_id")),
        "subject": text(data.get("subject")),
        "tags": tags(data.get("tags")),
        "url": text(dig(data, "meta", "url")),
        "ip": text(dig(data, "meta", "ip")),
        "user_agent": text(dig(data, "meta", "user_agent")),
    }
