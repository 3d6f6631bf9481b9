"""The value types of a rule's scenario keys: durations, times, sends and link patterns.

```toml
links = ["https://shop.example.org/pricing", "https://shop.example.org/blog/*",
         { prefix = "https://docs.example.org/" }]
after = "48h"                       # also "90s", "30m", "2d", "1w", "1h30m", "PT48H", 3600
at = 2026-12-07T09:00:00Z           # a TOML date-time or an ISO 8601 string; naive is UTC
send = { campaign_id = "spring-sale" }   # or { message_id = "..." }
```

A string pattern is exact unless it holds `*` (any run of characters; the only wildcard,
since `?` and `[` are ordinary URL characters), then a glob; `{ prefix = ... }`,
`{ glob = ... }` and `{ exact = ... }` say it outright. Patterns are compared with the
clicked link's canonical form (`link.canonical`), after the same normalisation, so
`HTTPS://Shop.example.org/pricing/?utm_source=x` is the same link as the first pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError

from providers.canonical import canonical_url

_COMPACT = re.compile(r"(?:(\d+(?:\.\d+)?)([wdhms]))")
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_ISO_DURATION: TypeAdapter[timedelta] = TypeAdapter(timedelta)
_ISO_TIME: TypeAdapter[datetime] = TypeAdapter(datetime)
# A timer is due at a time the schema can still write (year 9999); a century is plenty.
_LONGEST = 100 * 365.25 * 86400.0


def parse_duration(value: Any) -> float:
    """Seconds from `"48h"`, `"1h30m"`, `"PT48H"` or a number of seconds; always > 0."""
    seconds: float | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text and _COMPACT.sub("", text) == "":
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _COMPACT.findall(text))
        elif text.startswith("p"):
            try:
                seconds = _ISO_DURATION.validate_python(value.strip()).total_seconds()
            except ValidationError:
                seconds = None
    if seconds is None:
        raise ValueError(
            f"{value!r} is not a duration: write e.g. '90s', '30m', '48h', '2d', '1h30m',"
            " 'PT48H' or a number of seconds"
        )
    if not seconds > 0:  # NaN too (TOML has `nan` and `inf`)
        raise ValueError(f"{value!r}: a duration must be more than zero")
    if seconds > _LONGEST:
        raise ValueError(f"{value!r}: a duration must be at most 100 years")
    return seconds


def parse_time(value: Any) -> datetime:
    """An aware UTC datetime from a TOML date-time, an ISO 8601 string or a Unix time."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = _ISO_TIME.validate_python(value.strip())
        except ValidationError:
            raise ValueError(
                f"{value!r} is not a time: write an ISO 8601 date-time such as"
                " '2026-12-07T09:00:00Z'"
            ) from None
    else:
        raise ValueError(f"{value!r} is not a time: write an ISO 8601 date-time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def id_text(value: Any) -> Any:
    """An ESP id written as a number (Customer.io's campaign ids are) is its text, as the
    providers store it: `campaign_id = 42` is campaign "42"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Moment = Annotated[datetime, BeforeValidator(parse_time)]


@dataclass(frozen=True, slots=True)
class LinkPattern:
    kind: str  # exact | prefix | glob
    value: str  # canonical form (exact, prefix) or the glob as written, canonicalised
    glob: re.Pattern[str] | None = None  # `*` is the only wildcard: `?` and `[` are URL text

    def matches(self, canonical: str) -> bool:
        if self.kind == "exact":
            return canonical == self.value
        if self.kind == "prefix":
            return canonical.startswith(self.value)
        return self.glob is not None and self.glob.fullmatch(canonical) is not None

    def describe(self) -> str:
        return self.value if self.kind == "exact" else f"{self.kind} {self.value}"


def parse_pattern(raw: Any, ignore: frozenset[str] = frozenset()) -> LinkPattern:
    """One `links` item; the text is canonicalised like the clicked links it is tested on."""
    if isinstance(raw, str):
        kind = "glob" if "*" in raw else "exact"
        text = raw
    elif isinstance(raw, dict) and len(raw) == 1:
        ((kind, text),) = raw.items()
        if kind not in ("exact", "prefix", "glob") or not isinstance(text, str):
            raise ValueError(
                f"{raw!r}: use {{ exact = URL }}, {{ prefix = URL }} or {{ glob = URL }}"
            )
    else:
        raise ValueError(f"{raw!r}: a link pattern is a URL string or one of exact/prefix/glob")
    if kind == "glob":
        value = _canonical_glob(text, ignore)
        regex = ".*".join(re.escape(part) for part in value.split("*"))
        return LinkPattern("glob", value, re.compile(regex))
    canonical = canonical_url(text, ignore)
    if canonical is None:
        raise ValueError(f"{text!r} is not an absolute http(s) URL")
    # a prefix keeps the host's "/" (canonical), so `https://x.org` never matches x.org.evil
    return LinkPattern(kind, canonical)


def _canonical_glob(text: str, ignore: frozenset[str]) -> str:
    """Canonicalise the URL around the wildcards (a placeholder keeps them intact)."""
    marker = "x0wildcard0x"
    swapped = text.replace("*", marker)
    canonical = canonical_url(swapped, ignore)
    if canonical is None:
        raise ValueError(f"{text!r} is not an absolute http(s) URL pattern")
    if text.endswith("*") and canonical.endswith(marker + "/"):  # `https://*`: any path too
        canonical = canonical[:-1]
    return canonical.replace(marker, "*")


def parse_links(raw: Any, ignore: frozenset[str] = frozenset()) -> tuple[LinkPattern, ...] | None:
    """None for `"any"` (every real link); otherwise the patterns, at least one, made
    canonical like clicked links (`ignore`: the config's extra parameters to drop)."""
    if raw is None or raw == "any":
        return None
    items = [raw] if isinstance(raw, str | dict) else raw
    if not isinstance(items, list) or not items:
        raise ValueError('links: "any" or a non-empty list of link patterns')
    return tuple(parse_pattern(item, ignore) for item in items)


def link_selected(links: tuple[LinkPattern, ...] | None, canonical: str) -> bool:
    """`links = "any"` (None) selects every real link; otherwise any pattern may match."""
    if links is None:
        return True
    return any(pattern.matches(canonical) for pattern in links)
