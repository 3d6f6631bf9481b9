"""Postmark webhooks (Click and Delivery triggers of a message stream).

Delivery behaviour: one JSON event per POST. Outbound webhooks treat 200 as success; only
5xx, 408, 429 and timeouts are retried, for about 70 minutes (1, 5, 10, 10, 10, 15 min...),
and **every other 4xx, including our 400, 401 and 403, drops the event at once** (Postmark's
own guide: https://github.com/ActiveCampaign/postmark-skills/blob/main/postmark-webhooks/SKILL.md).
So a wrong credential in the source configuration silently loses events: check the counts
after changing it. (The 10-retry, 10.5-hour schedule Postmark documents is for *inbound*
webhooks.) Creating or editing a webhook posts a test event for every enabled trigger, which
must get a 200: they go through `parse` like any other event.
https://postmarkapp.com/developer/webhooks/webhooks-overview

Authenticity: Postmark does not sign webhooks. Each request must carry HTTP basic auth
(`https://user:pass@host/...` or the webhook's `HttpAuth`, checked against `basic_auth`) or a
bearer token (a custom `Authorization: Bearer ...` header via `HttpHeaders`, checked against
`bearer_tokens`); `options.token_header` names another custom header that carries one of the
`bearer_tokens` as its whole value. Any one matching credential is enough. `allowed_ips`
additionally restricts the caller's address (answered with 403, which also stops retries).
No timestamp is signed, so there is no replay window: replays are absorbed by de-duplication.

Mapping: `Click`, and `Delivery` as `email.delivered`. Postmark has no webhook for a message it
accepted but has not delivered yet (its triggers are Delivery, Bounce, SpamComplaint, Open,
Click and SubscriptionChange: https://postmarkapp.com/developer/webhooks/webhooks-overview), so
a Postmark source never produces `email.sent`; its recipients are known from the delivery.

Event ids: Postmark sends none, so `composite_key(MessageID, Recipient, OriginalLink,
ReceivedAt)` for clicks and `composite_key(MessageID, Recipient, None, DeliveredAt)` for
deliveries. A Click webhook fires only for the first click of a link by a recipient in a
message, so the triple is unique by construction. (Postmark's guide also mentions a
retry-stable `X-PM-Webhook-Trace-Id` header; the content key does not depend on it.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from connector.errors import MalformedPayload
from providers.base import ParseResult, Source, Verified, WebhookRequest, by_field, collect
from providers.normalize import (
    agent,
    dig,
    link_fields,
    load_json,
    origin,
    tags,
    text,
    to_utc,
    url_field,
)
from providers.signing import (
    allowed_ips_problems,
    basic_auth_problems,
    basic_authorization,
    blank_credential_problems,
    check_authorization,
    check_ip,
    check_secret,
)
from schemas import composite_key
from schemas.compiled import CompiledEvent, build_event

name = "postmark"
title = "Postmark"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)

# `RecordType` -> our type; https://postmarkapp.com/developer/webhooks/webhooks-overview
# (no record type for "accepted, not yet delivered", so nothing maps to `email.sent`)
EVENT_TYPES: dict[str, str] = {"Click": "email.clicked", "Delivery": "email.delivered"}
_TIME_FIELD = {"email.clicked": "ReceivedAt", "email.delivered": "DeliveredAt"}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token


def check_source(source: Source) -> list[str]:
    problems = []
    if not source.basic_auth and not source.bearer_tokens:
        problems.append("basic_auth: Postmark does not sign webhooks; set basic_auth or a token")
    problems += basic_auth_problems(source.basic_auth)
    header = source.options.get("token_header")
    if header is not None and not (isinstance(header, str) and _HEADER_NAME.match(header)):
        problems.append("options.token_header: must be an HTTP header name")
    if header is not None and not source.bearer_tokens:
        problems.append("bearer_tokens: options.token_header needs the tokens it carries")
    return problems + allowed_ips_problems(source.allowed_ips) + blank_credential_problems(source)


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    header = source.options.get("token_header")
    if isinstance(header, str) and request.header(header) is not None:
        index = check_secret(request.header(header), source.bearer_tokens, f"{header} header")
        return Verified(credential=f"bearer_tokens[{index}]")
    bearer = () if isinstance(header, str) else source.bearer_tokens
    authorization = request.header("authorization")
    return Verified(credential=check_authorization(authorization, source.basic_auth, bearer))


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """The credential Postmark would send (it signs nothing, so `body` is not involved)."""
    if source.basic_auth:
        return {"Authorization": basic_authorization(source.basic_auth[0])}
    header = source.options.get("token_header")
    if isinstance(header, str):
        return {header: source.bearer_tokens[0]}
    return {"Authorization": f"Bearer {source.bearer_tokens[0]}"}


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    items = payload if isinstance(payload, list) else [payload]
    if not isinstance(payload, dict | list):
        raise MalformedPayload("expected a Postmark webhook object")
    kind_of = partial(by_field, EVENT_TYPES, "RecordType")
    return collect(items, kind_of, partial(_event, request=request))


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    message_id, recipient = text(item.get("MessageID")), text(item.get("Recipient"))
    url = url_field(item.get("OriginalLink")) if kind == "email.clicked" else None
    occurred = item.get(_TIME_FIELD[kind])
    provider_event_id = composite_key(message_id, recipient, url, occurred)
    metadata = dict(item["Metadata"]) if isinstance(item.get("Metadata"), dict) else {}
    if tags(item.get("Tag")):
        metadata["tags"] = tags(item.get("Tag"))
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(occurred)),
        "recipient": {"email": recipient},
        "message": {"id": message_id},
        "metadata": metadata,
    }
    if kind == "email.delivered":
        return build_event("email.delivered", common)
    if url is None:
        raise MalformedPayload("Click record has no OriginalLink")
    client = {"user_agent": agent(item.get("UserAgent")), "ip": text(dig(item, "Geo", "IP"))}
    return build_event("email.clicked", {**common, "link": link_fields(url), "client": client})
