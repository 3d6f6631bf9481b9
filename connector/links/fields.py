"""The `link` part of a click's event, worked out once per destination template.

`providers.normalize.link_fields` splits a URL for its host and canonicalises it
(providers/canonical.py), whose LRU cache makes that ~1 µs for a URL seen before. A
`{contact}` template gives every contact its own URL, so the cache never hits and each
click paid ~15 µs (more under load). When every placeholder of a template is a whole query
value (`?who={contact}&v={values.variant}`), the filled URL differs from the template only
in those values: the host and the canonical form are worked out once per template with
numbered markers in their place, and a click only writes its own values where the markers
are, encoded as the canonical form encodes a query value. The canonical form decodes a query
value once (the template percent-encodes every filled value, so that gives the value back),
keeps or drops it by its key alone and sorts by key alone, so the markers stand exactly
where the values would. Other templates, and fallbacks, take `link_fields` as before.
tests/links/test_fields.py checks both ways agree on generated templates and values.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.links.template import PLACEHOLDER, UNRESERVED, Filled
from providers.canonical import canonical_url
from providers.canonical import encode_query_text as canonical_query_text
from providers.normalize import link_fields, text

_MARKER = "zqxmarker{}zqx"  # letters and digits only: canonical_url keeps it as it is
_MARKED = re.compile(r"zqxmarker(\d+)zqx")


@dataclass(frozen=True, slots=True)
class _Plan:
    host: str | None
    canonical: tuple[str, ...] | None  # split at its markers: text, number, text, ...


def click_link_fields(
    destination: str, filled: Filled, slug: str, ignore_params: frozenset[str]
) -> dict[str, Any]:
    """What `link_fields(filled.url, id=slug)` gives, canonical with `ignore_params` too."""
    plan = _plan(destination, ignore_params) if filled.values else None
    if plan is None:
        fields = link_fields(filled.url, id=slug)
        if ignore_params:
            fields["canonical"] = canonical_url(filled.url, ignore_params)
        return fields
    return {
        "url": filled.url,
        "canonical": _with_values(plan.canonical, filled.values),
        "id": text(slug),
        "host": plan.host,
        "position": None,
    }


@lru_cache(maxsize=1024)
def _plan(destination: str, ignore_params: frozenset[str]) -> _Plan | None:
    """The template's host and marked canonical form, or None if it does not qualify."""
    if not _values_only(destination) or _MARKED.search(destination):
        return None
    numbers = itertools.count()
    marked = PLACEHOLDER.sub(lambda _: _MARKER.format(next(numbers)), destination)
    fields = link_fields(marked)
    canonical = canonical_url(marked, ignore_params) if ignore_params else fields["canonical"]
    pieces = None if canonical is None else tuple(_MARKED.split(canonical))
    return _Plan(host=fields["host"], canonical=pieces)


def _with_values(pieces: tuple[str, ...] | None, values: tuple[str, ...]) -> str | None:
    """The marked canonical form with each marker replaced by its encoded value."""
    if pieces is None:
        return None
    out = [pieces[0]]
    for index in range(1, len(pieces), 2):
        value = values[int(pieces[index])]
        encoded = value if UNRESERVED.fullmatch(value) else canonical_query_text(value)
        out += (encoded, pieces[index + 1])
    return "".join(out)


def _values_only(destination: str) -> bool:
    """Every placeholder before the fragment is a whole query value (`key={name}`)."""
    head = destination.partition("#")[0]
    before, _, query = head.partition("?")
    if "{" in before or "}" in before:
        return False
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        if "{" in key or "}" in key:
            return False
        if ("{" in value or "}" in value) and not PLACEHOLDER.fullmatch(value):
            return False
    return True
