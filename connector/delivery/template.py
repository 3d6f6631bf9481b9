"""Body templates: how a no-code builder shapes the JSON an action sends.

A template maps output keys to event field paths (`connector.fields` syntax), to
`{ path = "...", default = ... }`, or to a nested table for a nested output object. Parsed
once at config load into `FieldRef` leaves, so rendering (body.py) does no validation.
Every path is checked against the public event schema with the rules' own check
(`connector.rules.paths.path_problem`), so a typo fails `check-config` instead of sending
null for ever. A path is accepted when it exists in any public event type: an action may be
started by `email.clicked`, `email.not_clicked`, `email.click_timeout` and the others.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from typing_extensions import TypeAliasType

from connector.rules.paths import path_problem
from schemas import EVENT_MODELS

_PATH_SEGMENT = re.compile(r"[^.\s]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class FieldRef(_Strict):
    """One mapped value: the event field at `path`, or `default` when it is absent or null."""

    path: str
    default: Any = None

    @field_validator("path")
    @classmethod
    def _path_syntax(cls, path: str) -> str:
        if not path or len(path) > 200 or not all(map(_PATH_SEGMENT.fullmatch, path.split("."))):
            raise ValueError("field path must be dotted names, e.g. 'recipient.email'")
        return path

    @field_validator("default")
    @classmethod
    def _json_default(cls, default: Any) -> Any:
        try:
            orjson.dumps(default)
        except TypeError as error:
            raise ValueError("default must be a JSON value") from error
        return default


# A body template: output key -> FieldRef, or a nested template for a nested output object.
Template = TypeAliasType("Template", "dict[str, FieldRef | Template]")
BodySpec = Literal["event"] | Template


def _parse_template(raw: Any, where: str) -> Template:
    """Turn the TOML mapping into a typed template, naming the offending key on error."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table of output key -> field path")
    template: Template = {}
    for key, node in raw.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{where}: output keys must be non-empty strings")
        template[key] = _parse_node(node, f"{where}.{key}")
    return template


def _parse_node(node: Any, where: str) -> FieldRef | Template:
    if isinstance(node, FieldRef):
        return node
    if isinstance(node, str):
        node = {"path": node}
    elif not _is_field_ref(node):
        return _parse_template(node, where)
    try:
        return FieldRef.model_validate(node)
    except ValidationError as error:
        first = error.errors()[0]
        reason = first.get("ctx", {}).get("error", first["msg"])
        raise ValueError(f"{where}: {reason}") from None


def _is_field_ref(node: Any) -> bool:
    """`{path = "...", default = ...}` is a reference; any other table is a nested object.

    So a nested output object whose only keys are `path` (and `default`) cannot be written
    as a table; that shape is rare enough to accept the rule's simplicity.
    """
    ref_keys = {"path", "default"}
    return isinstance(node, dict) and isinstance(node.get("path"), str) and node.keys() <= ref_keys


def validate_body(raw: Any) -> Any:
    """Pydantic before-validator for an action's `body`: "event" or a parsed template."""
    if raw == "event":
        return raw
    if isinstance(raw, str):
        raise ValueError('body must be "event" or a table of output key -> field path')
    template = _parse_template(raw, "body")
    if not template:
        raise ValueError("body mapping is empty; omit it to send the whole event")
    return template


def path_problems(body: BodySpec) -> list[str]:
    """Each template path that names no field of any public event type, by output key."""
    if body == "event":
        return []
    return list(_walk_problems(body, "body"))


def _walk_problems(template: Template, where: str) -> list[str]:
    found: list[str] = []
    for key, node in template.items():
        if isinstance(node, FieldRef):
            problem = path_problem(node.path, EVENT_MODELS)
            if problem is not None:
                found.append(f"{where}.{key}: {problem}")
        else:
            found += _walk_problems(node, f"{where}.{key}")
    return found
