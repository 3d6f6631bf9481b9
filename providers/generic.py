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
import hashlib
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
from schemas import Client, EmailClicked, EmailDelivered, Message, Recipient, composite_key, event_id

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
_OPTION_KEYS = {"auth", "events_path", "click", "delivered", "fields", "timestamp", "provider_label"}
_TIME_FORMATS = ("auto", "unix", "unix_ms", "iso", "strftime")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_INDEX = re.compile(r"^-?\d{1,9}$")
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
            elif isinstance(data, list) and _INDEX.match(step) and -len(data) <= int(step) < len(data):
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
    try:
        check_ip(None, source.allowed_ips)
    except ValueError:
        problems.append("allowed_ips: every entry must be an address or network")
    except Exception:  # noqa: S110 - ForbiddenSource: the list itself is valid
        pass
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
    return value.lower()


def _auth(value: Any, problems: list[str]) -> _Auth | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in _AUTH_KEYS:
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
