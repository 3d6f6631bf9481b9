"""Small pure helpers that turn ESP values into schema values the same way for every provider."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from connector.errors import MalformedPayload
from providers.base import WebhookRequest
from providers.canonical import canonical_url
from schemas import event_id

_MS_THRESHOLD = 1e12  # a Unix time above this is in milliseconds (year 33658 in seconds)
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MalformedPayload("body is not valid JSON") from None


def to_utc(value: Any, *, assume: timezone | None = UTC) -> datetime:
    """An aware UTC datetime from seconds, float seconds, ms, numeric strings or ISO strings.

    Naive ISO strings are read in `assume` (UTC unless the ESP documents a local zone).
    """
    if isinstance(value, bool) or value is None:
        raise MalformedPayload("missing or invalid timestamp")
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        value = float(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > _MS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise MalformedPayload("timestamp out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace(" +", "+"))
        except ValueError:
            raise MalformedPayload("timestamp is not ISO-8601 or Unix time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=assume or UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
            raise MalformedPayload("timestamp out of range") from None
    raise MalformedPayload("timestamp has an unexpected type")


def origin(
    provider: str, request: WebhookRequest, provider_event_id: str, occurred_at: datetime
) -> dict[str, Any]:
    """The event fields that say which ESP event this is and where and when it came from.

    Built in one place so every provider derives the public `id` the same way (dedup across
    retries relies on it) and stamps the source and receipt time from the request alike.
    """
    return {
        "id": event_id(provider, provider_event_id),
        "occurred_at": occurred_at,
        "received_at": request.received_at,
        "provider": provider,
        "source": request.source_id,
        "provider_event_id": provider_event_id,
    }


def text(value: Any) -> str | None:
    """A string field from whatever the ESP sent (ints become strings, empty becomes None)."""
    if type(value) is str:  # the common case first: this runs ~10 times per event
        return value.strip() or None
    if value is None or isinstance(value, dict | list):
        return None
    result = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    return result or None


def agent(value: Any) -> str | None:
    """The clicker's user agent from an ESP field that always carries it.

    Unlike `text`, a present but empty field stays `""`: the click came without a
    `User-Agent`, which the bot detector counts as evidence (`ua.empty`). An absent field
    (None) stays unknown. Only for ESPs whose click payload documents the field on every
    click; where it is optional (Brevo, MailerSend), use `text`.
    """
    if type(value) is str:
        return value.strip()
    return text(value)


def bare_address(value: Any) -> str | None:
    """`dana@example.org` from `"Dana" <dana@example.org>`: recipients are stored bare.

    Text without an address in it is kept as sent (trimmed), so nothing is silently lost.
    """
    found = text(value)
    if found is None:
        return None
    address = parseaddr(found)[1]
    return address if "@" in address else found


def link_fields(url: str, *, id: Any = None, position: int | None = None) -> dict[str, Any]:
    """The `link` part of an event, keeping `url` exactly as sent and deriving the lower-cased
    host and the canonical form rules and reports use (fields for `schemas.compiled.build_event`).

    `canonical` drops the default tracking parameters only; a source's own extra list is
    applied where the source is known, with `canonical_url(url, extra)`.
    """
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    return {
        "url": url,
        "canonical": canonical_url(url),
        "id": text(id),
        "host": host,
        "position": position,
    }


def utc_offset(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def dig(data: Any, *path: str | int) -> Any:
    """`data[path[0]][path[1]]...`, or None where any step is missing or of the wrong kind."""
    for step in path:
        if isinstance(step, int) and isinstance(data, list) and -len(data) <= step < len(data):
            data = data[step]
        elif isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def load_form(body: bytes) -> list[tuple[str, str]]:
    """The fields of an `application/x-www-form-urlencoded` body, in order, decoded once.

    Repeated names are kept (Mailgun's legacy format repeats `tag`); Mandrill and Mailgun's
    legacy webhooks post forms: https://mailchimp.com/developer/transactional/docs/webhooks/
    """
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload("body is not form-encoded") from None


def tags(value: Any) -> list[str]:
    """ESP tags or categories as a list of strings, whether sent as one string or a list."""
    items = value if isinstance(value, list) else [value]
    return [tag for tag in (text(item) for item in items) if tag is not None]


def url_field(value: Any) -> str | None:
    """A clicked URL exactly as sent (never stripped or decoded), or None if absent or blank."""
    return value if isinstance(value, str) and value.strip() else None
