"""Brevo (ex-Sendinblue) transactional and marketing email webhooks.

Delivery behaviour: one JSON event object per POST, or, for webhooks created with
`"batched": true`, a JSON array of up to 500 events gathered over 5-minute windows
(https://developers.brevo.com/docs/batch-webhooks; the array shape is not shown there, so both
are accepted). Retries (https://developers.brevo.com/docs/retry-mechanism): 4 retries after
10 min, 1 h, 2 h and 8 h; an unresponsive server pauses delivery for 10 minutes. **Any 4xx
except 429, and any 5xx, stops all retries and discards the webhook**: only 429, timeouts and
connection errors are retried. So our 503 for a storage outage, or our 500 for a bug on the
request path, would lose Brevo events: `STATUS_OVERRIDES` below makes the app answer 429
instead. 400/401/403 answers are final too, which is right for forged calls.

Authenticity: Brevo signs nothing (https://developers.brevo.com/docs/secured-webhooks).
Configure `basic_auth` (credentials in the notify URL, sent as `Authorization: Basic`) and/or
`bearer_tokens` (`auth: {type: "bearer", token}` on the webhook); at least one is required.
`allowed_ips` (Brevo's published ranges) is enforced first when set. No timestamp is signed,
so there is no replay window; dedup by event id covers retries.

Two families with different field names: transactional (`link`, `message-id`, `ts_epoch`,
`template_id`, `tags`, `X-Mailin-custom`, newer `user_agent`/`device_used`) and marketing
(`URL`, `camp_id`, `"campaign name"`, `ts_sent`/`ts_event`, no message id, user agent or IP).
`sending_ip` is Brevo's MTA, never the clicker, so `client.ip` stays empty.

Mapping: `click`, `delivered`, and `request` as `email.sent`. `request` is the `event` value of
the transactional webhook Brevo's docs title "Sent": the message was accepted and pushed for
delivery, before any delivery report (https://developers.brevo.com/docs/transactional-webhooks).
Marketing webhooks have no sent event (spam, opened, clicked, bounces, delivered, unsubscribe,
contact and coupon events only: https://developers.brevo.com/docs/marketing-webhooks), so a
campaign's recipients show up at delivery.

Time: `ts_epoch` (ms UTC; some doc samples show seconds, so magnitude decides) is preferred,
then `ts_event`, then `ts`. anymail's live captures show `ts`/`ts_event` following the account
time zone although the docs say UTC, and `ts_epoch` as the only reliably UTC field. `date` is
CET/CEST (`options.date_timezone`, default Europe/Paris) and only used when nothing else exists.

Event id: Brevo sends none (`id` is the *webhook* id, kept as `metadata["webhook_id"]`), so
`provider_event_id = composite_key(event, message-id or camp_id, email, URL, raw time value)`.
Two clicks on the same link in the same millisecond merge; that is the documented price.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from connector.errors import ConfigError, MalformedPayload
from providers.base import ParseResult, Source, Verified, WebhookRequest
from providers.normalize import link_fields, load_json, origin, text, to_utc
from providers.signing import (
    basic_auth_problems,
    basic_authorization,
    blank_credential_problems,
    check_authorization,
    check_ip,
)
from schemas import composite_key
from schemas.compiled import CompiledEvent, build_event

name = "brevo"
title = "Brevo"

# Brevo stops retrying and discards the webhook on any 5xx (and any 4xx but 429), so when
# our storage is unavailable, or a bug made us fail, we answer 429, the one code it retries.
# https://developers.brevo.com/docs/how-to-use-webhooks (retry policy)
STATUS_OVERRIDES: Mapping[int, int] = {500: 429, 503: 429}
DEFAULT_DATE_TIMEZONE = "Europe/Paris"  # "date : CET/CEST Timezone" in Brevo's webhook docs

# Brevo `event` -> ours; https://developers.brevo.com/docs/transactional-webhooks and
# https://developers.brevo.com/docs/marketing-webhooks (both families use `click` and
# `delivered`; `request` is the transactional "Sent" event, so `email.sent`).
EVENT_TYPES: dict[str, str] = {
    "click": "email.clicked",
    "delivered": "email.delivered",
    "request": "email.sent",
}
_TIME_FIELDS = ("ts_epoch", "ts_event", "ts")
_METADATA_KEYS = {
    "template_id": "template_id",
    "campaign name": "campaign_name",
    "device_used": "device_used",
    "list_id": "list_id",
    "segment_ids": "segment_ids",
    "id": "webhook_id",
}


def check_source(source: Source) -> list[str]:
    problems: list[str] = []
    if not source.basic_auth and not source.bearer_tokens:
        problems.append("basic_auth: Brevo needs basic_auth or bearer_tokens (it signs nothing)")
    problems += basic_auth_problems(source.basic_auth)
    zone = source.options.get("date_timezone", DEFAULT_DATE_TIMEZONE)
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"options.date_timezone: unknown time zone {zone!r}")
    return problems + blank_credential_problems(source)


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    header = request.header("authorization")
    return Verified(credential=check_authorization(header, source.basic_auth, source.bearer_tokens))


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """The `Authorization` header Brevo would send (the body itself is never signed)."""
    if source.basic_auth:
        return {"Authorization": basic_authorization(source.basic_auth[0])}
    if source.bearer_tokens:
        return {"Authorization": f"Bearer {source.bearer_tokens[0]}"}
    raise ConfigError(["basic_auth: Brevo needs basic_auth or bearer_tokens to sign with"])


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if not isinstance(payload, list | dict):
        raise MalformedPayload("expected a Brevo event object or an array of them")
    items = payload if isinstance(payload, list) else [payload]
    zone = _zone(source)
    result = ParseResult()  # not `collect`: Brevo's non-object items keep their own reason
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.add(index, item, partial(_refuse, "item is not a JSON object"))
            continue
        kind = EVENT_TYPES.get(str(item.get("event")))
        if kind is None:
            result.ignored.append(str(item.get("event")))
            continue
        result.add(index, item, partial(_event, kind, item, request, zone))
    return result


def _zone(source: Source) -> ZoneInfo:
    try:
        return ZoneInfo(str(source.options.get("date_timezone", DEFAULT_DATE_TIMEZONE)))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_DATE_TIMEZONE)


def _refuse(reason: str) -> NoReturn:
    raise MalformedPayload(reason)


def _event(
    kind: str, item: dict[str, Any], request: WebhookRequest, zone: ZoneInfo
) -> CompiledEvent:
    occurred_at, raw_time = _occurred(item, zone)
    message_id = text(item.get("message-id"))
    campaign_id = text(item.get("camp_id"))
    email = text(item.get("email"))
    url = text(item.get("link")) or text(item.get("URL"))  # transactional / marketing
    provider_event_id = composite_key(
        item.get("event"), message_id or campaign_id, email, url, raw_time
    )
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, occurred_at),
        # contact_id is 0 when the recipient is not a contact
        "recipient": {
            "email": email,
            "id": text(item.get("contact_id")) if item.get("contact_id") else None,
        },
        "message": {
            "id": message_id,
            "campaign_id": campaign_id,
            "subject": text(item.get("subject")),
        },
        "metadata": _metadata(item),
    }
    if kind != "email.clicked":  # delivered and request share the envelope fields
        return build_event(kind, common)
    if url is None:
        raise MalformedPayload("click event has no link / URL")
    client = {"user_agent": text(item.get("user_agent"))}
    return build_event("email.clicked", {**common, "link": link_fields(url), "client": client})


def _occurred(item: dict[str, Any], zone: ZoneInfo) -> tuple[datetime, str]:
    """Event time and the raw value it came from (part of the composite event id)."""
    for key in _TIME_FIELDS:
        value = item.get(key)
        if value is not None and value != "":
            return to_utc(value), str(value)
    raw = text(item.get("date"))
    if raw is None:
        raise MalformedPayload("event has no ts_epoch, ts_event, ts or date")
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedPayload("date is not 'YYYY-MM-DD HH:MM:SS'") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return to_utc(local.isoformat()), raw


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        ours: item[theirs] for theirs, ours in _METADATA_KEYS.items() if item.get(theirs)
    }
    tags = _tags(item)
    if tags:
        found["tags"] = tags
    custom = item.get("X-Mailin-custom")
    if isinstance(custom, str) and custom:
        found["custom"] = _maybe_json(custom)
    return found


def _tags(item: dict[str, Any]) -> list[Any]:
    """`tags` (array) when set at send, else `tag`: one string, or a JSON array as a string."""
    if isinstance(item.get("tags"), list):
        return list(item["tags"])
    tag = item.get("tag")
    if not isinstance(tag, str) or not tag:
        return []
    parsed = _maybe_json(tag) if tag.startswith("[") else tag
    return parsed if isinstance(parsed, list) else [tag]


def _maybe_json(value: str) -> Any:
    """`X-Mailin-custom` holds whatever the sender put in the header, often JSON."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
