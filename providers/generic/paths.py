"""Where a generic source's values live: dotted paths into the event item, the body or a header.

Also the small option checkers the rest of the config compiler shares (`_table`, `_choice`,
`_header`): each appends a readable problem instead of raising, so `check_source` can report
every mistake at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from providers.base import WebhookRequest

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
_INDEX = re.compile(r"^-?\d{1,9}$")


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
            elif isinstance(data, list) and _INDEX.match(step):
                index = int(step)
                data = data[index] if -len(data) <= index < len(data) else None
            else:
                return None
        return data


@dataclass(frozen=True, slots=True)
class _Match:
    path: _Path
    values: frozenset[tuple[str, Any]]

    def test(self, item: Any, body: Any, request: WebhookRequest) -> bool:
        return _scalar(self.path.get(item, body, request)) in self.values


def _table(value: Any, where: str, allowed: set[str], problems: list[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a table")
        return {}
    problems += [f"{where}.{key}: unknown key" for key in value if key not in allowed]
    return value


def _choice(table: dict[str, Any], key: str, choices: tuple[str, ...]) -> str | None:
    """The configured choice (the first one when absent), or None when it is not one of them."""
    value = table.get(key, choices[0])
    return value if value in choices else None


def _header(value: Any, where: str, problems: list[str]) -> str:
    if not (isinstance(value, str) and _HEADER_NAME.match(value)):
        problems.append(f"{where}: must be an HTTP header name")
        return ""
    return value


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
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a table like {{ path = ..., equals = ... }}")
        return None
    table = _table(value, where, {"path", "equals", "in"}, problems)
    path = _path(table.get("path"), f"{where}.path", problems)
    if ("equals" in table) == ("in" in table):
        problems.append(f"{where}: give exactly one of equals or in")
        return None
    wanted = [table["equals"]] if "equals" in table else table["in"]
    values = [_scalar(item) for item in wanted] if isinstance(wanted, list) else []
    if not values or None in values:
        problems.append(f"{where}: values must be strings, numbers or booleans")
        return None
    return None if path is None else _Match(path, frozenset(v for v in values if v is not None))
