"""Field paths over a normalised event, shared by rules, body mappings and templates.

A path is dotted (`recipient.email`, `bot.reasons.0.code`). Besides the stored fields, the
clicked URL is exposed in parts so rules never compare raw URL strings: `link.scheme`,
`link.host`, `link.path`, `link.query.<param>` (first value) and `link.fragment`. A part the
URL does not have (no `#`, no `?`, no such parameter) is absent, not an empty string.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

MISSING: Any = object()
_INDEX = re.compile(r"-?[0-9]+")  # distinct from None: the field is absent, not null


def resolve(event: dict[str, Any], path: str) -> Any:
    """The value at `path`, or `MISSING` where any step does not exist."""
    parts = path.split(".")
    if parts[0] == "link" and len(parts) >= 2 and parts[1] in _URL_PARTS:
        return _url_part(event, parts[1:])
    return _walk(event, parts)


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list) and _INDEX.fullmatch(part):
            index = int(part)
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


_URL_PARTS = frozenset({"scheme", "path", "query", "fragment"})


def _url_part(event: dict[str, Any], parts: list[str]) -> Any:
    """One part of `link.url`; a part the URL does not have is `MISSING`, never "".

    `urlsplit` gives "" both for an absent part and for an empty one (`/a` and `/a#`), so
    presence is read from the delimiters: absent means absent, so `exists = false` holds.
    """
    url = _walk(event, ["link", "url"])
    if not isinstance(url, str):
        return MISSING
    try:
        split = urlsplit(url)
    except ValueError:
        return MISSING
    kind = parts[0]
    if kind == "path":
        return (split.path or "/") if len(parts) == 1 else MISSING
    if kind == "scheme":
        return (split.scheme.lower() or MISSING) if len(parts) == 1 else MISSING
    before_fragment, hash_sign, _ = url.partition("#")
    if kind == "fragment":
        return split.fragment if len(parts) == 1 and hash_sign else MISSING
    if "?" not in before_fragment:
        return MISSING
    parsed = parse_qs(split.query, keep_blank_values=True)
    query = {key: values[0] for key, values in parsed.items()}
    if len(parts) == 1:
        return query
    return query.get(".".join(parts[1:]), MISSING)
