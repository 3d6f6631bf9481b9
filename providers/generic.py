"""Generic JSON webhooks: the authenticity check and the field mapping come from the config.

For senders without a built-in adapter (Klaviyo, Iterable, HighLevel, in-house systems): a
source declares in `options` how requests are authenticated (`auth`), where the events are
(`events_path`), which ones are clicks or deliveries (`click`, `delivered`), where each schema
field is (`fields`) and how times are written (`timestamp`). docs/generic-adapter.md is the
reference, with worked examples. `check_source` validates the options (fail closed: unknown
keys are errors too) and `_spec` compiles them once per distinct options table.

Delivery behaviour depends on the sender. We answer 2xx for every authentic request, including
events that are neither `click` nor `delivered` (acknowledged, counted as ignored), 401 for a
wrong credential or signature, 403 for a caller outside `allowed_ips`, 400 for a body that is
not JSON. A misconfigured source answers 500 (our fault: a retry can succeed once fixed).

Event ids: `fields.provider_event_id` when mapped (an item without it is rejected), else
`composite_key(message.id, recipient, link.url, raw occurred_at)`, which merges two clicks on
the same link in the same instant. Ids are scoped by `provider_label` when set (sources for the
same sender de-duplicate together), else by the source id, so two unrelated senders that both
number their events 1, 2, 3 never swallow each other's events as duplicates.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from connector.errors import ConfigError, MalformedPayload, SignatureError
from providers.base import ParseResult, Rejection, Source, Verified, WebhookRequest
from providers.normalize import link, load_json, text, to_utc, url_field
from providers.signing import (
    basic_auth_user_pass,
    bearer_token,
    check_freshness,
    check_ip,
    check_secret,
    hmac_digest,
    matching_key,
    parse_epoch,
)
from schemas import (
    Client,
    EmailClicked,
    EmailDelivered,
    Message,
    Recipient,
    composite_key,
    event_id,
)

name = "generic"
title = "Generic JSON webhook"
DEFAULT_TOLERANCE = 300
FIELDS = (
    "provider_event_id",
    "occurred_at",
    "recipient.email",
    "recipient.id",
    "message.id",
    "message.campaign_id",
    "message.subject",
    "link.url",
    "link.id",
    "link.position",
    "client.user_agent",
    "client.ip",
    "metadata",
)  # plus "metadata.<key>": one value copied into event.metadata[<key>]
_AUTH_KEYS = {
    "hmac": {"type", "algorithm", "encoding", "header", "prefix", "signed", "timestamp_header"},
    "basic": {"type"},
    "bearer": {"type"},
    "header": {"type", "header", "prefix"},
    "none": {"type"},
}
_OPTION_KEYS = {
    "auth",
    "events_path",
    "click",
    "delivered",
    "fields",
    "timestamp",
    "provider_label",
}
_TIME_FORMATS = ("auto", "unix", "unix_ms", "iso", "strftime")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_INDEX = re.compile(r"^-?\d{1,9}$")
_NUMERIC = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SIGNATURE_CHARS = r"([A-Za-z0-9+/=_-]+)"
_MAX_CANDIDATES = 16
_MAX_CACHE = 256


@dataclass(frozen=True, slots=True)
class _Path:
    """Where a value lives: in the event item, the whole body, or a request header."""

    root: str  # "event" | "body" | "header"
    steps: tuple[str, ...]
    text: str

    def get(self, item: Any, body: Any, request: WebhookRequest) -> Any:
        if self.root == "header":
            return request.header(self.steps[0])
        data = body if self.root == "body" else item
        for step in self.steps:
            if isinstance(data, dict):
                data = data.get(step)
            elif (
                isinstance(data, list)
                and _INDEX.match(step)
                and -len(data) <= int(step) < len(data)
            ):
                data = data[int(step)]
            else:
                return None
        return data


@dataclass(frozen=True, slots=True)
class _Match:
    path: _Path
    values: frozenset[tuple[str, Any]]

    def test(self, item: Any, body: Any, request: WebhookRequest) -> bool:
        return _scalar(self.path.get(item, body, request)) in self.values


@dataclass(frozen=True, slots=True)
class _Auth:
    type: str
    header: str = ""
    prefix: str = ""
    algorithm: str = "sha256"
    encoding: str = "hex"
    signed: tuple[tuple[str, str], ...] = (("body", ""),)  # ("text"|"body"|"url"|"header", arg)
    timestamp_header: str | None = None


@dataclass(frozen=True, slots=True)
class _Time:
    format: str = "auto"
    pattern: str | None = None
    zone: tzinfo = UTC


@dataclass(frozen=True, slots=True)
class _Spec:
    auth: _Auth
    events: _Path | None
    click: _Match
    delivered: _Match | None
    fields: dict[str, _Path]
    time: _Time
    label: str | None


# --- configuration -------------------------------------------------------------------------


def check_source(source: Source) -> list[str]:
    spec, problems = _compile(source.options)
    if spec is None:
        return problems
    auth = spec.auth
    if auth.type == "hmac" and not source.signing_keys:
        problems.append('signing_keys: options.auth.type = "hmac" needs at least one key')
    if auth.type == "basic" and not source.basic_auth:
        problems.append('basic_auth: options.auth.type = "basic" needs user:password pairs')
    if any(":" not in pair for pair in source.basic_auth):
        problems.append("basic_auth: each entry must be 'user:password'")
    if auth.type in ("bearer", "header") and not source.bearer_tokens:
        problems.append(f'bearer_tokens: options.auth.type = "{auth.type}" needs the tokens')
    if auth.type == "none" and not source.insecure:
        problems.append('options.auth.type: "none" accepts anyone; it needs insecure = true')
    if ("url", "") in auth.signed and not source.url:
        problems.append("url: options.auth.signed uses {url}; set the URL the sender signs")
    for address in source.allowed_ips:
        try:
            ipaddress.ip_network(address, strict=False)
        except ValueError:
            problems.append(f"allowed_ips: {address!r} is not an address or network")
    return problems


def _spec(source: Source) -> _Spec:
    """The compiled options, cached by their canonical JSON (Source is frozen, options are not)."""
    try:
        key: bytes | None = orjson.dumps(source.options, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        key = None
    spec = _CACHE.get(key) if key is not None else None
    if spec is None:
        spec, problems = _compile(source.options)
        if spec is None:
            raise ConfigError([f"sources ({source.id}).{problem}" for problem in problems])
        if key is not None:
            if len(_CACHE) >= _MAX_CACHE:
                _CACHE.clear()
            _CACHE[key] = spec
    return spec


_CACHE: dict[bytes, _Spec] = {}


def _compile(options: Any) -> tuple[_Spec | None, list[str]]:
    problems: list[str] = []
    if not isinstance(options, dict):
        return None, ["options: must be a table"]
    problems += [f"options.{key}: unknown key" for key in options if key not in _OPTION_KEYS]
    auth = _auth(options.get("auth"), problems)
    events = None
    if options.get("events_path") is not None:
        events = _path(options["events_path"], "options.events_path", problems)
        if events is not None and events.root != "event":
            problems.append("options.events_path: must be a path inside the body")
    click = _match(options.get("click"), "options.click", problems)
    delivered = None
    if options.get("delivered") is not None:
        delivered = _match(options["delivered"], "options.delivered", problems)
    fields = _fields(options.get("fields"), problems)
    time = _time(options.get("timestamp", {}), problems)
    label = options.get("provider_label")
    if label is not None and not (isinstance(label, str) and label.strip()):
        problems.append("options.provider_label: must be a non-empty string")
    if problems or auth is None or click is None or time is None:
        return None, problems or ["options: invalid"]
    return _Spec(auth, events, click, delivered, fields, time, label), []


def _table(value: Any, where: str, allowed: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a table")
        return {}
    problems += [f"{where}.{key}: unknown key" for key in value if key not in allowed]
    return value


def _choice(table: dict[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str | None:
    value = table.get(key, choices[0])
    return value if value in choices else None


def _header(value: Any, where: str, problems: list[str]) -> str:
    if not (isinstance(value, str) and _HEADER_NAME.match(value)):
        problems.append(f"{where}: must be an HTTP header name")
        return ""
    return value


def _auth(value: Any, problems: list[str]) -> _Auth | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _AUTH_KEYS:
        problems.append(f"options.auth.type: must be one of {', '.join(_AUTH_KEYS)}")
        return None
    table = _table(value, "options.auth", _AUTH_KEYS[kind], problems)
    prefix = table.get("prefix", "")
    if not isinstance(prefix, str):
        problems.append("options.auth.prefix: must be a string")
    if kind in ("basic", "bearer", "none"):
        return _Auth(type=kind)
    header = _header(table.get("header"), "options.auth.header", problems)
    if kind == "header":
        return _Auth(type=kind, header=header, prefix=str(prefix))
    algorithm = _choice(table, "algorithm", "options.auth", ("sha256", "sha1", "sha512"))
    encoding = _choice(table, "encoding", "options.auth", ("hex", "base64"))
    if algorithm is None:
        problems.append('options.auth.algorithm: must be "sha256", "sha1" or "sha512"')
    if encoding is None:
        problems.append('options.auth.encoding: must be "hex" or "base64"')
    stamp = None
    if table.get("timestamp_header") is not None:
        stamp = _header(table["timestamp_header"], "options.auth.timestamp_header", problems)
    signed = _template(table.get("signed", "{body}"), stamp, problems)
    return _Auth(kind, header, str(prefix), algorithm or "", encoding or "", signed, stamp)


def _template(value: Any, stamp: str | None, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """`{body}`, `{timestamp}`, `{url}`, `{header:Name}` and literal text, in order."""
    where = "options.auth.signed"
    if not isinstance(value, str) or "{body}" not in value:
        problems.append(f"{where}: must be a string containing {{body}}")
        return ()
    parts: list[tuple[str, str]] = []
    position = 0
    for found in _PLACEHOLDER.finditer(value):
        parts.append(("text", value[position : found.start()]))
        position = found.end()
        key = found.group(1)
        if key in ("body", "url"):
            parts.append((key, ""))
        elif key == "timestamp" and stamp:
            parts.append(("header", stamp))
        elif key == "timestamp":
            problems.append(f"{where}: {{timestamp}} needs options.auth.timestamp_header")
        elif key.startswith("header:"):
            parts.append(("header", _header(key[7:], f"{where} {{{key}}}", problems)))
        else:
            problems.append(f"{where}: unknown placeholder {{{key}}}")
    parts.append(("text", value[position:]))
    if any("{" in arg or "}" in arg for kind, arg in parts if kind == "text"):
        problems.append(f"{where}: unbalanced brace")
    return tuple(part for part in parts if part != ("text", ""))


def _path(value: Any, where: str, problems: list[str]) -> _Path | None:
    """A dotted path (`data.0.url`, `$header.X-Id`, `$body.meta.id`) or a list of keys."""
    if isinstance(value, str):
        steps: list[Any] = value.split(".")
    elif isinstance(value, list) and value:
        steps = value
    else:
        problems.append(f"{where}: must be a dotted path or a list of keys")
        return None
    if any(isinstance(s, bool) or not isinstance(s, str | int) or s == "" for s in steps):
        problems.append(f"{where}: path has an empty or invalid step")
        return None
    parts = [str(step) for step in steps]
    root = {"$header": "header", "$body": "body"}.get(parts[0], "event")
    if root == "header":
        header = ".".join(parts[1:])
        return _Path(root, (_header(header, where, problems),), str(value))
    return _Path(root, tuple(parts[1:] if root == "body" else parts), str(value))


def _scalar(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    return ("text", value) if isinstance(value, str) else None


def _match(value: Any, where: str, problems: list[str]) -> _Match | None:
    table = _table(value, where, {"path", "equals", "in"}, problems)
    path = _path(table.get("path"), f"{where}.path", problems) if table else None
    if ("equals" in table) == ("in" in table):
        problems.append(f"{where}: give exactly one of equals or in")
        return None
    wanted = [table["equals"]] if "equals" in table else table["in"]
    if not isinstance(wanted, list) or not wanted or None in map(_scalar, wanted):
        problems.append(f"{where}: values must be strings, numbers or booleans")
        return None
    return None if path is None else _Match(path, frozenset(map(_scalar, wanted)))  # type: ignore[arg-type]


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{link = {url = "..."}}` and `{"link.url" = "..."}` mean the same (TOML dotted keys)."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _fields(value: Any, problems: list[str]) -> dict[str, _Path]:
    if not isinstance(value, dict):
        problems.append("options.fields: must be a table of event fields to paths")
        return {}
    paths: dict[str, _Path] = {}
    for field, raw in _flatten(value).items():
        where = f"options.fields.{field}"
        if field not in FIELDS and not (field.startswith("metadata.") and len(field) > 9):
            problems.append(f"{where}: unknown field; known: {', '.join(FIELDS)}, metadata.<key>")
        elif (path := _path(raw, where, problems)) is not None:
            paths[field] = path
    for required in ("occurred_at", "link.url"):
        if required not in paths and f"options.fields.{required}" not in str(problems):
            problems.append(f"options.fields.{required}: required")
    return paths


def _time(value: Any, problems: list[str]) -> _Time | None:
    table = _table(value, "options.timestamp", {"format", "pattern", "timezone"}, problems)
    kind = _choice(table, "format", "options.timestamp", _TIME_FORMATS)
    if kind is None:
        problems.append(f"options.timestamp.format: must be one of {', '.join(_TIME_FORMATS)}")
        return None
    pattern = table.get("pattern")
    if (kind == "strftime") != isinstance(pattern, str):
        problems.append('options.timestamp.pattern: a string, used only with format "strftime"')
    zone = _zone(table.get("timezone", "UTC"))
    if zone is None:
        problems.append("options.timestamp.timezone: must be an offset like +01:00 or a tz name")
        return None
    return _Time(kind, pattern if isinstance(pattern, str) else None, zone)


def _zone(value: Any) -> tzinfo | None:
    if not isinstance(value, str):
        return None
    if value in ("Z", "UTC"):
        return UTC
    offset = _OFFSET.match(value)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = int(offset.group(2)) * 60 + int(offset.group(3))
        return timezone(sign * timedelta(minutes=minutes)) if minutes < 24 * 60 else None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- authenticity --------------------------------------------------------------------------


def verify(request: WebhookRequest, source: Source) -> Verified:
    auth = _spec(source).auth
    try:
        check_ip(request.client_ip, source.allowed_ips)
    except ValueError:
        raise ConfigError([f"sources ({source.id}).allowed_ips: not a network"]) from None
    if auth.type == "hmac":
        return _verify_hmac(auth, request, source)
    if auth.type == "basic":
        pair = basic_auth_user_pass(request.header("authorization"))
        return Verified(f"basic_auth[{check_secret(pair, source.basic_auth, 'basic auth')}]")
    if auth.type == "bearer":
        token = bearer_token(request.header("authorization"))
        return Verified(f"bearer_tokens[{check_secret(token, source.bearer_tokens, 'token')}]")
    if auth.type == "header":
        value = request.header(auth.header)
        if value is not None and auth.prefix and value.startswith(auth.prefix):
            value = value[len(auth.prefix) :]
        index = check_secret(value, source.bearer_tokens, f"{auth.header} header")
        return Verified(f"bearer_tokens[{index}]")
    if not source.insecure:  # check_source refuses this; never accept anyone by accident
        raise ConfigError([f'sources ({source.id}).options.auth.type: "none" needs insecure'])
    return Verified("none (insecure source)")


def _verify_hmac(auth: _Auth, request: WebhookRequest, source: Source) -> Verified:
    signed_at = None
    if auth.timestamp_header:
        signed_at = _signed_at(request.header(auth.timestamp_header), auth.timestamp_header)
    candidates = _candidates(request.header(auth.header), auth)
    message = _message(auth, request, source)
    for candidate in candidates:
        index = matching_key(source.signing_keys, candidate, message, algorithm=auth.algorithm)
        if index is not None:
            break
    else:
        raise SignatureError(f"{auth.header} header does not match any signing key")
    if signed_at is not None:
        tolerance = source.timestamp_tolerance or DEFAULT_TOLERANCE
        check_freshness(signed_at, request.received_at, tolerance)
    return Verified(credential=f"signing_keys[{index}]")


def _signed_at(value: str | None, header: str) -> float:
    """Unix seconds or milliseconds, or an ISO-8601 time, from the timestamp header."""
    try:
        return parse_epoch(value, f"{header} header")
    except SignatureError:
        if value is None or not value.strip():
            raise
    try:
        return to_utc(value.strip()).timestamp()
    except MalformedPayload:
        raise SignatureError(f"{header} header is not a Unix or ISO-8601 time") from None


def _candidates(value: str | None, auth: _Auth) -> list[bytes]:
    """Every signature in the header: senders rotating keys may send several."""
    if not value or not value.strip():
        raise SignatureError(f"missing {auth.header} header")
    if auth.prefix:
        found = re.findall(re.escape(auth.prefix) + _SIGNATURE_CHARS, value)
    else:
        found = [part for part in re.split(r"[\s,]+", value.strip()) if part]
    decoded = [_decode(item, auth.encoding) for item in found[:_MAX_CANDIDATES]]
    candidates = [item for item in decoded if item]
    if not candidates:
        raise SignatureError(f"{auth.header} header holds no {auth.encoding} signature")
    return candidates


def _decode(value: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        padded = value + "=" * (-len(value) % 4)
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (ValueError, binascii.Error):
        return None


def _message(auth: _Auth, request: WebhookRequest, source: Source) -> bytes:
    parts: list[bytes] = []
    for kind, arg in auth.signed:
        if kind == "text":
            parts.append(arg.encode("utf-8"))
        elif kind == "body":
            parts.append(request.body)
        elif kind == "url":
            parts.append((source.url or request.url).encode("utf-8"))
        else:
            value = request.header(arg)
            if value is None:
                raise SignatureError(f"missing {arg} header")
            parts.append(_header_bytes(value))
    return b"".join(parts)


def _header_bytes(value: str) -> bytes:
    """The header as sent: ASGI servers decode header bytes as Latin-1."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """Headers a sender configured like `source` would send (for `send-sample` and tests)."""
    auth = _spec(source).auth
    if auth.type == "none":
        return {}
    field = {"hmac": "signing_keys", "basic": "basic_auth"}.get(auth.type, "bearer_tokens")
    secrets: tuple[str, ...] = getattr(source, field)
    if not secrets:
        raise ConfigError([f"sources ({source.id}).{field}: nothing to sign with"])
    if auth.type == "basic":
        return {"Authorization": "Basic " + base64.b64encode(secrets[0].encode()).decode()}
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {secrets[0]}"}
    if auth.type == "header":
        return {auth.header: auth.prefix + secrets[0]}
    sample = "sample-" + hashlib.sha256(body).hexdigest()[:16]
    headers = {arg: sample for kind, arg in auth.signed if kind == "header"}
    if auth.timestamp_header:
        headers[auth.timestamp_header] = str(int(now.timestamp()))
    lowered = {key.lower(): value for key, value in headers.items()}
    request = WebhookRequest(source.id, "POST", source.url or "", lowered, body, None, now)
    digest = hmac_digest(secrets[0], _message(auth, request, source), auth.algorithm)
    encoded = digest.hex() if auth.encoding == "hex" else base64.b64encode(digest).decode()
    return {**headers, auth.header: auth.prefix + encoded}


# --- normalisation -------------------------------------------------------------------------


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    spec = _spec(source)
    body = load_json(request.body)
    result = ParseResult()
    items = _items(body, spec, request)
    if items is None:
        assert spec.events is not None
        result.ignored.append(f"(nothing at {spec.events.text})")
        return result
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append(Rejection(index, "event is not a JSON object"))
        elif spec.click.test(item, body, request):
            result.add(index, item, partial(_event, spec, True, item, body, request))
        elif spec.delivered is not None and spec.delivered.test(item, body, request):
            result.add(index, item, partial(_event, spec, False, item, body, request))
        else:
            kind = text(spec.click.path.get(item, body, request))
            result.ignored.append(kind[:100] if kind else f"(nothing at {spec.click.path.text})")
    return result


def _items(body: Any, spec: _Spec, request: WebhookRequest) -> list[Any] | None:
    """The event items; None when `events_path` leads nowhere (acknowledged, e.g. a ping)."""
    if not isinstance(body, dict | list):
        raise MalformedPayload("expected a JSON object or an array of events")
    if spec.events is None:
        return body if isinstance(body, list) else [body]
    found = spec.events.get(body, body, request)
    if found is None:
        return None
    if isinstance(found, dict | list):
        return found if isinstance(found, list) else [found]
    raise MalformedPayload(f"options.events_path {spec.events.text!r} does not lead to events")


def _event(
    spec: _Spec, clicked: bool, item: dict[str, Any], body: Any, request: WebhookRequest
) -> EmailClicked | EmailDelivered:
    def get(field: str) -> Any:
        path = spec.fields.get(field)
        return None if path is None else path.get(item, body, request)

    raw_time = get("occurred_at")
    occurred = _parse_time(raw_time, spec.time, spec.fields["occurred_at"].text)
    message = Message(
        id=text(get("message.id")),
        campaign_id=text(get("message.campaign_id")),
        subject=text(get("message.subject")),
    )
    recipient = Recipient(email=text(get("recipient.email")), id=text(get("recipient.id")))
    url = url_field(get("link.url")) if clicked else None
    if clicked and url is None:
        raise MalformedPayload(f"link.url: no URL at {spec.fields['link.url'].text}")
    if "provider_event_id" in spec.fields:
        provider_event_id = text(get("provider_event_id"))
        if provider_event_id is None:
            where = spec.fields["provider_event_id"].text
            raise MalformedPayload(f"provider_event_id: nothing at {where}")
    else:
        who = recipient.email or recipient.id
        provider_event_id = composite_key(message.id, who, url, _raw(raw_time))
    scope = spec.label or f"source:{request.source_id}"
    common: dict[str, Any] = {
        "id": event_id(name, f"{scope}\x1f{provider_event_id}"),
        "occurred_at": occurred,
        "received_at": request.received_at,
        "provider": name,
        "source": request.source_id,
        "provider_event_id": provider_event_id,
        "recipient": recipient,
        "message": message,
        "metadata": _metadata(spec, get),
    }
    if not clicked:
        return EmailDelivered(**common)
    assert url is not None
    return EmailClicked(
        **common,
        link=link(url, id=get("link.id"), position=_position(get("link.position"))),
        client=Client(user_agent=text(get("client.user_agent")), ip=text(get("client.ip"))),
    )


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _position(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _INDEX.match(value.strip()):
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


def _metadata(spec: _Spec, get: Callable[[str], Any]) -> dict[str, Any]:
    """The mapped object (a JSON string holding one is decoded), `metadata.<key>`s, `esp`."""
    found: dict[str, Any] = {}
    value = get("metadata")
    if isinstance(value, str) and value.lstrip().startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(value)
    if isinstance(value, dict):
        found.update(value)
    elif value is not None:
        found["metadata"] = value
    for field in spec.fields:
        if field.startswith("metadata.") and (extra := get(field)) is not None:
            found[field[9:]] = extra
    found["esp"] = spec.label or name
    return found


def _parse_time(value: Any, spec: _Time, where: str) -> datetime:
    if value is None:
        raise MalformedPayload(f"occurred_at: no time at {where}")
    try:
        if spec.format == "auto" and (not isinstance(value, str) or _NUMERIC.match(value)):
            return to_utc(value)
        if spec.format in ("unix", "unix_ms") and not isinstance(value, bool | dict | list):
            seconds = float(value) / (1000 if spec.format == "unix_ms" else 1)
            return datetime.fromtimestamp(seconds, UTC)
        if not isinstance(value, str) or spec.format in ("unix", "unix_ms"):
            raise ValueError
        if spec.format == "strftime":
            assert spec.pattern is not None
            parsed = datetime.strptime(value.strip(), spec.pattern)
        else:  # ISO-8601; also Iterable's "2017-05-15 23:59:47 +00:00" (PROVIDERS.md 14.3)
            parsed = datetime.fromisoformat(value.strip().replace(" +", "+").replace(" -", "-"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=spec.zone)).astimezone(UTC)
    except (MalformedPayload, ValueError, OverflowError, OSError):
        shown = str(value)[:40]
        raise MalformedPayload(f"occurred_at: {shown!r} is not a {spec.format} time") from None
