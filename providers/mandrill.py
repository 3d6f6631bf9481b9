"""Mandrill (Mailchimp Transactional) webhooks.

Delivery behaviour: `application/x-www-form-urlencoded` POSTs with one field, `mandrill_events`,
a JSON array of up to 1,000 events of mixed types, batched and posted roughly once a minute.
https://mailchimp.com/developer/transactional/docs/webhooks/ ;
https://mandrill.zendesk.com/hc/en-us/articles/205583217-Introduction-to-Webhooks
A failed batch is retried automatically and listed in the UI, where a user can "give up"
(https://mandrill.zendesk.com/hc/en-us/articles/205583277); the schedule, the timeout and
which codes count as success are not documented, so answer 200 quickly.

Adding a webhook: Mandrill checks the URL with a HEAD request (answered by the app, not
here); if that does not return 200 it falls back to a POST whose `mandrill_events` is an
empty array, signed with the generic key `test-webhook`. `verify` accepts exactly that
empty ping (credential `validation-ping`): it carries no events, so nothing can be forged
with the public key. https://mandrill.zendesk.com/hc/en-us/articles/360038740014

Authenticity: `X-Mandrill-Signature` is base64 HMAC-SHA1, under the webhook's own key, of the
webhook URL exactly as registered (scheme, host, port, path, query, any userinfo) followed by
every POST field sorted by name, appended as name + value with no separators (form values
decoded once). Behind a proxy the URL we see differs from the registered one, so set
`url`; only when it is unset is the request URL used.
https://mailchimp.com/developer/transactional/docs/webhooks/#authenticating-webhook-requests
No timestamp is signed, so there is no replay window: replays are absorbed by de-duplication.

Mapping: `click`, `delivered` ("message has received a response from the recipient's mail
server indicating successful delivery") and `send` as `email.sent` ("message has been sent
successfully", before any delivery report), as the event types section says:
https://mailchimp.com/developer/transactional/docs/webhooks/#event-types
All three carry the message under `msg` (recipient, subject, tags, metadata).

Event ids: Mandrill sends none, so `composite_key(_id, msg.email, url, ts)` (`_id` is the
message id; two clicks on the same link in the same second merge). Events of the example
batch Mandrill's "send test" posts (`_id` "exampleaaaa...") are marked `test`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import ConfigError, MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
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
from providers.signing import blank_credential_problems, decode_base64, hmac_digest, matching_key
from schemas import BOT_HINT_KEY, composite_key
from schemas.compiled import CompiledEvent, build_event

name = "mandrill"
title = "Mandrill (Mailchimp Transactional)"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
VALIDATION_KEY = "test-webhook"  # Mandrill's published key for the URL check (see above)
_EXAMPLE_ID = "exampleaaaaaaaaaaaaaaaaaaaaaaaaa"

# `event` -> our type; https://mailchimp.com/developer/transactional/docs/webhooks/
# (`send`: "message has been sent successfully", so `email.sent`; sync events carry `type`
# instead of `event` and are acknowledged only)
EVENT_TYPES: dict[str, str] = {
    "click": "email.clicked",
    "delivered": "email.delivered",
    "send": "email.sent",
}


def check_source(source: Source) -> list[str]:
    if source.signing_keys:
        return blank_credential_problems(source)
    return ["signing_keys: Mandrill needs the webhook's key (shown per webhook)"]


def _signed_message(url: str, fields: list[tuple[str, str]]) -> bytes:
    params = dict(fields)  # a repeated name keeps its last value, as PHP and Django do
    signed = url + "".join(key + params[key] for key in sorted(params))
    return signed.encode("utf-8", "replace")


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    signature = decode_base64(request.header("x-mandrill-signature"), "X-Mandrill-Signature")
    try:
        fields = load_form(request.body)
    except MalformedPayload:
        raise SignatureError("body is not the form Mandrill signs") from None
    message = _signed_message(source.url or request.url, fields)
    index = matching_key(source.signing_keys, signature, message, algorithm="sha1")
    if index is not None:
        return Verified(credential=f"signing_keys[{index}]")
    if (
        _is_validation_ping(fields)
        and matching_key((VALIDATION_KEY,), signature, message, algorithm="sha1") == 0
    ):
        return Verified(credential="validation-ping")
    raise SignatureError("X-Mandrill-Signature does not match any webhook key")


def _is_validation_ping(fields: list[tuple[str, str]]) -> bool:
    """Mandrill's URL check: nothing but an empty `mandrill_events` array."""
    if [key for key, _ in fields] != ["mandrill_events"]:
        return False
    try:
        return bool(load_json(fields[0][1].encode("utf-8")) == [])
    except MalformedPayload:
        return False


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    if not source.url:
        raise ConfigError(["url: Mandrill signs the registered webhook URL; set it to sign"])
    digest = hmac_digest(
        source.signing_keys[0], _signed_message(source.url, load_form(body)), "sha1"
    )
    return {"X-Mandrill-Signature": base64.b64encode(digest).decode("ascii")}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    events = dict(load_form(request.body)).get("mandrill_events")
    if events is None:
        raise MalformedPayload("form has no mandrill_events field")
    items = load_json(events.encode("utf-8"))
    if not isinstance(items, list):
        raise MalformedPayload("mandrill_events is not a JSON array")
    return collect(items, _kind, partial(_event, request=request))


def _kind(item: dict[str, Any]) -> tuple[str | None, str]:
    """Sync events carry `type` instead of `event`: count them under their `type`."""
    return EVENT_TYPES.get(str(item.get("event"))), str(item.get("event") or item.get("type"))


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    msg = item["msg"] if isinstance(item.get("msg"), dict) else {}
    message_id = text(item.get("_id")) or text(msg.get("_id"))
    recipient, url = text(msg.get("email")), url_field(item.get("url"))
    provider_event_id = composite_key(message_id, recipient, url, item.get("ts"))
    metadata = dict(msg["metadata"]) if isinstance(msg.get("metadata"), dict) else {}
    if tags(msg.get("tags")):
        metadata["tags"] = tags(msg.get("tags"))
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(item.get("ts"))),
        "recipient": {"email": recipient},
        "message": {"id": message_id, "subject": text(msg.get("subject"))},
        "metadata": metadata,
        "test": bool(message_id and message_id.startswith(_EXAMPLE_ID)),
    }
    if kind != "email.clicked":  # delivered and send share the envelope fields
        return build_event(kind, common)
    if url is None:
        raise MalformedPayload("click event has no url")
    client = {"user_agent": agent(item.get("user_agent")), "ip": text(item.get("ip"))}
    agent_type = text(dig(item, "user_agent_parsed", "type"))  # e.g. "Browser", "Robot"
    if agent_type:
        metadata[BOT_HINT_KEY] = agent_type.lower()
    return build_event("email.clicked", {**common, "link": link_fields(url), "client": client})
