"""How a generic source writes its times: compiling `options.timestamp` and parsing by it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.errors import MalformedPayload
from providers.generic.paths import _choice, _table
from providers.normalize import to_utc

_TIME_FORMATS = ("auto", "unix", "unix_ms", "iso", "strftime")
_NUMERIC = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True, slots=True)
class _Time:
    format: str = "auto"
    pattern: str | None = None
    zone: tzinfo = UTC


def _time(value: Any, problems: list[str]) -> _Time | None:
    table = _table(value, "options.timestamp", {"format", "pattern", "timezone"}, problems)
    kind = _choice(table, "format", _TIME_FORMATS)
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
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


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
        else:  # ISO-8601; also Iterable's documented "2017-05-15 23:59:47 +00:00"
            parsed = datetime.fromisoformat(value.strip().replace(" +", "+").replace(" -", "-"))
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=spec.zone)).astimezone(UTC)
    except (MalformedPayload, ValueError, OverflowError, OSError):
        shown = str(value)[:40]
        raise MalformedPayload(f"occurred_at: {shown!r} is not a {spec.format} time") from None
