"""SparkPost event webhooks (Bird's email API posts the same format).

Delivery behaviour (https://developers.sparkpost.com/api/webhooks/): a POST whose body is a JSON
array of `{"msys": {"<event_class>": {...}}}` items, mixing event types; every batch carries
an `X-MessageSystems-Batch-ID` header. Anything but HTTP **200** fails the batch (202/204
included), and failed batches are retried for 8 hours, then discarded. Timeout 10 seconds.
Creating or validating a webhook POSTs `[{"msys": {}}]` and refuses the webhook unless it gets
200; such empty "ping" items are acknowledged and neither stored nor counted.

Authenticity: SparkPost signs nothing. The webhook's `auth_type` is `basic` (an
`Authorization: Basic` header from `auth_credentials`: configure `basic_auth`) or `oauth2`
(SparkPost fetches a token from your token URL and sends `Authorization: Bearer`: have that
endpoint issue a fixed token and list it in `bearer_tokens`). The deprecated `auth_token` is
sent as `X-MessageSystems-Webhook-Token` and is accepted against `bearer_tokens` too. An
optional `allowed_ips` list is enforced first. No timestamp is signed, so there is no replay
window; events are de-duplicated by `event_id`.

Mapping: `click`/`amp_click`, `delivery` ("Remote MTA acknowledged receipt of a message") and
`injection` as `email.sent` ("Message is received by or injected into SparkPost", one per
recipient, before any delivery or bounce; https://developers.sparkpost.com/api/events/). The
message events carry the same recipient, ids, subject, campaign and metadata fields.

Event id: SparkPost's own `event_id` (unique per event; an item without one is rejected).
`X-MessageSystems-Batch-ID` goes to `metadata["batch_id"]` (audit only: dedup is per event,
because a retried batch keeps its id but we store events, not batches).
Metadata keeps SparkPost's names: `rcpt_meta` (object), `rcpt_tags` (array), plus
`transmission_id` (the id the send API returned), `template_id`, `subaccount_id`, `geo_ip`.
`message.id` is the per-recipient `message_id`; `message.campaign_id` is `campaign_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, NoReturn

from connector.errors import ConfigError, MalformedPayload
from providers.base import ParseResult, Source, Verified, WebhookRequest
from providers.normalize import agent, link_fields, load_json, origin, text, to_utc
from providers.signing import (
    basic_auth_problems,
    basic_authorization,
    blank_credential_problems,
    check_authorization,
    check_ip,
    check_secret,
)
from schemas.compiled import CompiledEvent, build_event

name = "sparkpost"
title = "SparkPost / Bird"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)

# SparkPost `type` -> our event type; https://developers.sparkpost.com/api/events/ (track_event
# click/amp_click, message_event delivery and injection: accepted by SparkPost, so
# `email.sent`). Other types are acknowledged and counted.
EVENT_TYPES: dict[str, str] = {
    "click": "email.clicked",
    "amp_click": "email.clicked",
    "delivery": "email.delivered",
    "injection": "email.sent",
}
_LEGACY_HEADER = "x-messagesystems-webhook-token"  # deprecated `auth_token`
_METADATA_KEYS = ("transmission_id", "template_id", "template_version", "subaccount_id", "geo_ip")


def check_source(source: Source) -> list[str]:
    problems: list[str] = []
    if not source.basic_auth and not source.bearer_tokens:
        problems.append(
            "basic_auth: SparkPost needs basic_auth or bearer_tokens (it signs nothing)"
        )
    return problems + basic_auth_problems(source.basic_auth) + blank_credential_problems(source)


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    legacy = request.header(_LEGACY_HEADER)
    if request.header("authorization") is None and legacy is not None and source.bearer_tokens:
        index = check_secret(legacy, source.bearer_tokens, "X-MessageSystems-Webhook-Token")
        return Verified(credential=f"bearer_tokens[{index}]")
    return Verified(
        credential=check_authorization(
            request.header("authorization"), source.basic_auth, source.bearer_tokens
        )
    )


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """The `Authorization` header SparkPost would send (the body itself is never signed)."""
    if source.basic_auth:
        return {"Authorization": basic_authorization(source.basic_auth[0])}
    if source.bearer_tokens:
        return {"Authorization": f"Bearer {source.bearer_tokens[0]}"}
    raise ConfigError(["basic_auth: SparkPost needs basic_auth or bearer_tokens to sign with"])


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if isinstance(payload, dict) and "msys" in payload:
        payload = [payload]  # tolerate a single unwrapped item
    if not isinstance(payload, list):
        raise MalformedPayload("expected a SparkPost JSON array of msys items")
    batch_id = text(request.header("x-messagesystems-batch-id"))
    result = ParseResult()
    for index, item in enumerate(payload):
        msys = item.get("msys") if isinstance(item, dict) else None
        if msys == {}:
            continue  # validation ping: https://developers.sparkpost.com/api/webhooks/
        unwrapped = _unwrap(msys)
        if unwrapped is None:
            result.add(index, item, partial(_refuse, "item is not {'msys': {class: event}}"))
            continue
        event_class, event = unwrapped
        kind = EVENT_TYPES.get(str(event.get("type")))
        if kind is None:  # relay_message (inbound) items have no `type`: count their class
            result.ignored.append(str(event.get("type") or event_class))
            continue
        result.add(index, item, partial(_event, kind, event, request, batch_id))
    return result


def _unwrap(msys: Any) -> tuple[str, dict[str, Any]] | None:
    """The event class and the one event object inside `msys`, or None for another shape."""
    if not isinstance(msys, dict) or len(msys) != 1:
        return None
    event_class, event = next(iter(msys.items()))
    return (str(event_class), event) if isinstance(event, dict) else None


def _refuse(reason: str) -> NoReturn:
    raise MalformedPayload(reason)


def _event(
    kind: str, event: dict[str, Any], request: WebhookRequest, batch_id: str | None
) -> CompiledEvent:
    provider_event_id = text(event.get("event_id"))
    if provider_event_id is None:
        raise MalformedPayload("event_id is missing")
    # `timestamp`: string seconds usually, ISO-8601 in some event types (see anymail's tests)
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(event.get("timestamp"))),
        "recipient": {"email": text(event.get("raw_rcpt_to")) or text(event.get("rcpt_to"))},
        "message": {
            "id": text(event.get("message_id")),
            "campaign_id": text(event.get("campaign_id")),
            "subject": text(event.get("subject")),
        },
        "metadata": _metadata(event, batch_id),
    }
    if kind != "email.clicked":  # delivery and injection share the envelope fields
        return build_event(kind, common)
    url = text(event.get("target_link_url"))
    if url is None:
        raise MalformedPayload("click event has no target_link_url")
    common["link"] = link_fields(url, id=event.get("target_link_name"))
    common["client"] = {
        "user_agent": agent(event.get("user_agent")),
        "ip": text(event.get("ip_address")),
    }
    return build_event("email.clicked", common)


def _metadata(event: dict[str, Any], batch_id: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {key: event[key] for key in _METADATA_KEYS if event.get(key)}
    if isinstance(event.get("rcpt_meta"), dict) and event["rcpt_meta"]:
        found["rcpt_meta"] = event["rcpt_meta"]
    if isinstance(event.get("rcpt_tags"), list) and event["rcpt_tags"]:
        found["rcpt_tags"] = event["rcpt_tags"]
    if event.get("type") == "amp_click":
        found["amp"] = True
    if batch_id:
        found["batch_id"] = batch_id
    return found
