"""A generic source's `options`, validated (fail closed) and compiled once into a `_Spec`.

`check_source` reports every problem at startup; `_spec` hands the compiled form to `verify`,
`sign` and `parse`, cached per distinct options table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from connector.errors import ConfigError
from providers.base import Source
from providers.generic.paths import _choice, _header, _Match, _match, _Path, _path, _table
from providers.generic.times import _Time, _time
from providers.signing import (
    allowed_ips_problems,
    basic_auth_problems,
    blank_credential_problems,
)
from schemas.events import SCHEDULED_TYPES

# Schema fields a path can fill, plus "metadata.<key>" (one value into event.metadata[<key>]).
FIELDS = (
    "provider_event_id",
    "occurred_at",
    "recipient.email",
    "recipient.id",
    "message.id",
    "message.campaign_id",
    "message.subject",
    "message.link_count",
    "link.url",
    "link.id",
    "link.position",
    "client.user_agent",
    "client.ip",
    "metadata",
)
_AUTH_KEYS = {
    "hmac": {"type", "algorithm", "encoding", "header", "prefix", "signed", "timestamp_header"},
    "basic": {"type"},
    "bearer": {"type"},
    "header": {"type", "header", "prefix"},
    "none": {"type"},
}
# The option keys that say which items are email.clicked, email.delivered and email.sent: only
# types a webhook can report. The scheduled ones (email.not_clicked, email.click_timeout) are
# made by the connector when a scenario's check or wait comes due, so they get no key.
_TYPE_KEYS = ("click", "delivered", "sent")
_SCHEDULED_KEYS = {kind.removeprefix("email."): kind for kind in SCHEDULED_TYPES}
_OPTION_KEYS = {*_TYPE_KEYS, "auth", "events_path", "fields", "timestamp", "provider_label"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_MAX_CACHE = 256


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
class _Spec:
    auth: _Auth
    events: _Path | None
    click: _Match
    delivered: _Match | None
    sent: _Match | None
    fields: dict[str, _Path]
    time: _Time
    label: str | None


def check_source(source: Source) -> list[str]:
    spec, problems = _compile(source.options)
    if spec is None:
        return problems
    auth = spec.auth
    if auth.type == "hmac" and not source.signing_keys:
        problems.append('signing_keys: options.auth.type = "hmac" needs at least one key')
    if auth.type == "basic" and not source.basic_auth:
        problems.append('basic_auth: options.auth.type = "basic" needs user:password pairs')
    problems += basic_auth_problems(source.basic_auth)
    if auth.type in ("bearer", "header") and not source.bearer_tokens:
        problems.append(f'bearer_tokens: options.auth.type = "{auth.type}" needs the tokens')
    if auth.type == "none" and not source.insecure:
        problems.append('options.auth.type: "none" accepts anyone; it needs insecure = true')
    if ("url", "") in auth.signed and not source.url:
        problems.append("url: options.auth.signed uses {url}; set the URL the sender signs")
    return problems + allowed_ips_problems(source.allowed_ips) + blank_credential_problems(source)


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
    problems += [_unknown_key(key) for key in options if key not in _OPTION_KEYS]
    auth = _auth(options.get("auth"), problems)
    events = None
    if options.get("events_path") is not None:
        events = _path(options["events_path"], "options.events_path", problems)
        if events is not None and events.root != "event":
            problems.append("options.events_path: must be a path inside the body")
    click = _match(options.get("click"), "options.click", problems)
    delivered, sent = (_optional_match(options, key, problems) for key in ("delivered", "sent"))
    problems += _overlaps({"click": click, "delivered": delivered, "sent": sent})
    fields = _fields(options.get("fields"), problems)
    time = _time(options.get("timestamp", {}), problems)
    label = options.get("provider_label")
    if label is not None and not (isinstance(label, str) and label.strip()):
        problems.append("options.provider_label: must be a non-empty string")
    if problems or auth is None or click is None or time is None:
        return None, problems or ["options: invalid"]
    return _Spec(auth, events, click, delivered, sent, fields, time, label), []


def _unknown_key(key: Any) -> str:
    """Name a scheduled event type as such: it is a mapping target no webhook can have."""
    kind = _SCHEDULED_KEYS.get(str(key).removeprefix("email."))
    if kind is None:
        return f"options.{key}: unknown key"
    return (
        f"options.{key}: {kind} cannot be mapped from a webhook; the connector makes it itself"
        " when a scenario's check or wait comes due (map click, delivered or sent)"
    )


def _optional_match(options: dict[str, Any], key: str, problems: list[str]) -> _Match | None:
    value = options.get(key)
    return None if value is None else _match(value, f"options.{key}", problems)


def _overlaps(matches: dict[str, _Match | None]) -> list[str]:
    """Two types must not claim the same value at the same path: an item has one type."""
    problems: list[str] = []
    seen: list[tuple[str, _Match]] = []
    for key, match in matches.items():
        if match is None:
            continue
        for earlier, other in seen:
            if other.path.text == match.path.text and other.values & match.values:
                problems.append(f"options.{key}: matches the same items as options.{earlier}")
        seen.append((key, match))
    return problems


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
    algorithm = _choice(table, "algorithm", ("sha256", "sha1", "sha512"))
    encoding = _choice(table, "encoding", ("hex", "base64"))
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
        reported = any(p.startswith(f"options.fields.{required}:") for p in problems)
        if required not in paths and not reported:
            problems.append(f"options.fields.{required}: required")
    return paths
