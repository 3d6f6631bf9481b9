"""Mailjet Event API (event tracking webhooks).

Delivery behaviour (https://dev.mailjet.com/email/guides/webhooks/ and
mailjet/api-documentation guides/_event-api.md): a POST with a JSON body, one bare event object
per request, or, with "group events" (`Version: 2` on `/v3/REST/eventcallbackurl`), a JSON array
of the last second's events of mixed types. Only **200 OK** counts as success (201/202/204 do
not); anything else is retried every 30 seconds until 24 hours after the first failure unless a
new event is generated, and an endpoint that keeps failing is suspended (a backup URL,
`IsBackup`, takes over). So a 400/401/403 from us makes Mailjet retry the same bytes every 30
seconds for a day: harmless for dedup, but it means a wrong password shows up as a steady
trickle of 401s rather than as silence. Timeout: undocumented.

Authenticity: Mailjet signs nothing. It recommends HTTPS plus basic auth in the registered URL
(`https://user:pass@host/path`), which arrives as `Authorization: Basic`; configure the pair in
`basic_auth` (several allowed while rotating). An optional `allowed_ips` list is enforced first.
No timestamp is signed, so there is no replay window; events are de-duplicated by id.

Mapping: `click`, and `sent` as `email.delivered`, not `email.sent`: Mailjet's `sent` is its
delivery report, "Dispatched when the destination SMTP server (gmail, hotmail, yahoo, etc) has
accepted the message" (mailjet/api-documentation guides/_event-api.md, "Sent event"). Mailjet
has no webhook for the earlier step (accepted by Mailjet, queued), so a Mailjet source never
produces `email.sent`; its recipients are known from the delivery.

Event id: Mailjet sends none, so `provider_event_id` is
`composite_key(MessageID, email, url, time)` (`mj_message_id` stands in for `MessageID` in
older grouped payloads). Two clicks on the same link by the same recipient in the same second
merge into one event; that is the documented price of having no id.
Metadata keeps Mailjet's names: `CustomID`, `Payload` (decoded when it holds JSON, else the
string as sent) and `customcampaign` (the `X-Mailjet-Campaign` value).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from connector.errors import MalformedPayload
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
from providers.normalize import agent, link_fields, load_json, origin, text, to_utc
from providers.signing import (
    basic_authorization,
    blank_credential_problems,
    check_authorization,
    check_ip,
)
from schemas import composite_key
from schemas.compiled import CompiledEvent, build_event

name = "mailjet"
title = "Mailjet"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)

# Mailjet `event` -> ours; https://dev.mailjet.com/email/guides/webhooks/#event-types
# "sent" fires when the recipient's SMTP server accepted the message, i.e. a delivery (it is
# not our `email.sent`, which comes before any delivery report).
EVENT_TYPES: dict[str, str] = {
    "click": "email.clicked",
    "sent": "email.delivered",
}


def check_source(source: Source) -> list[str]:
    if not source.basic_auth:
        return ["basic_auth: Mailjet signs nothing; put user:password in the registered URL"]
    return [
        f"basic_auth[{index}]: expected 'user:password'"
        for index, pair in enumerate(source.basic_auth)
        if ":" not in pair
    ] + blank_credential_problems(source)


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    label = check_authorization(request.header("authorization"), source.basic_auth, ())
    return Verified(credential=label)


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    return {"Authorization": basic_authorization(source.basic_auth[0])}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload  # grouped events (Version 2); may legitimately be empty
    else:
        raise MalformedPayload("expected a Mailjet event object or array of events")
    return collect(items, _kind, partial(_event, request=request))


def _kind(item: dict[str, Any]) -> tuple[str | None, str]:
    event = text(item.get("event"))  # stripped, so " click" still counts as a click
    return EVENT_TYPES.get(event or ""), str(event)


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    message_id = text(item.get("MessageID")) or text(item.get("mj_message_id"))
    email = text(item.get("email"))
    url = text(item.get("url"))
    provider_event_id = composite_key(message_id, email, url, item.get("time"))
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(item.get("time"))),
        "recipient": {"email": email, "id": _nonzero(item.get("mj_contact_id"))},
        "message": {"id": message_id, "campaign_id": _campaign(item)},
        "metadata": _metadata(item),
    }
    if kind == "email.delivered":
        return build_event("email.delivered", common)
    if url is None:
        raise MalformedPayload("click event has no url")
    client = {"user_agent": agent(item.get("agent")), "ip": text(item.get("ip"))}
    return build_event("email.clicked", {**common, "link": link_fields(url), "client": client})


def _nonzero(value: Any) -> str | None:
    """Mailjet sends 0 for "none" in its numeric id fields (transactional mail has no campaign)."""
    found = text(value)
    return None if found in (None, "0") else found


def _campaign(item: dict[str, Any]) -> str | None:
    return _nonzero(item.get("mj_campaign_id")) or text(item.get("customcampaign"))


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key in ("CustomID", "customcampaign"):
        if text(item.get(key)) is not None:
            found[key] = item[key]
    payload = item.get("Payload")
    if isinstance(payload, str) and payload.strip():
        found["Payload"] = _maybe_json(payload)
    elif isinstance(payload, dict | list):
        found["Payload"] = payload
    return found


def _maybe_json(value: str) -> Any:
    """`Payload` is whatever string the sender attached; it is often JSON, but need not be."""
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, dict | list) else value
