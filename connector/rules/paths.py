"""Checks a rule's field paths against the public event schema when the config loads.

A typo such as `link.hots` would otherwise never match and never complain; for no-code users
that is the most common way a rule silently does nothing. Free-form parts of the schema
(`metadata.*`, `link.query.<param>`) accept any name below them. The URL parts come from the
shared resolver (`connector.fields`), so both always agree on what a path means.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

from connector.fields import _URL_PARTS as URL_PARTS
from schemas import EVENT_MODELS, Link

_INDEX = re.compile(r"-?[0-9]+")


def path_problem(path: str, event_types: Iterable[str]) -> str | None:
    """Why `path` cannot name a field of any of `event_types`, or None when it can."""
    segments = path.split(".")
    if any(not segment for segment in segments):
        return f"field {path!r} has an empty part; write it like 'link.host'"
    for segment in segments:
        # `connector.fields` treats digit segments as list indexes; only ASCII ones are safe.
        if segment.lstrip("-").isdigit() and not _INDEX.fullmatch(segment):
            return f"field {path!r}: {segment!r} is not a list index (use 0-9)"
    chosen = list(event_types)
    if any(_fits(EVENT_MODELS[name], segments) for name in chosen):
        return None
    close = difflib.get_close_matches(path, known_paths(tuple(chosen)), n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field {path!r} for {', '.join(chosen)}{hint}"


def _fits(annotation: Any, segments: list[str]) -> bool:
    if not segments or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_fits(arg, segments) for arg in get_args(annotation) if arg is not type(None))
    if origin is dict:
        return True  # free-form mapping such as `metadata`
    if origin is list:
        return bool(_INDEX.fullmatch(segments[0])) and _fits(get_args(annotation)[0], segments[1:])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        head, rest = segments[0], segments[1:]
        if annotation is Link and head in URL_PARTS:
            return head == "query" or not rest
        field = annotation.model_fields.get(head)
        return field is not None and _fits(field.annotation, rest)
    return False


@cache
def known_paths(event_types: tuple[str, ...]) -> list[str]:
    """Every named path of the given event types, for "did you mean" hints."""
    found: list[str] = []
    for name in event_types:
        found += _walk(EVENT_MODELS[name], "")
        if "link" in EVENT_MODELS[name].model_fields:
            found += [f"link.{part}" for part in sorted(URL_PARTS)]
    return sorted(set(found))


def _walk(model: type[BaseModel], prefix: str) -> list[str]:
    out: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        candidates = get_args(field.annotation) or (field.annotation,)
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                out += _walk(candidate, f"{path}.")
    return out
