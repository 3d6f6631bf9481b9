"""A compiled twin of the event models, generated from them, for the webhook hot path.

The pydantic models in `schemas/events.py` stay the one definition of the public schema:
JSON Schema, docs and everything after storage use them. Validating an event with pydantic
and serialising it again cost ~30 µs per webhook inside the running service, the largest
single step of ingest. `msgspec` does the same validation and encoding in C for ~5 µs, so
adapters build each event from plain fields through `build_event`, which validates them
against a `msgspec.Struct` generated below from the pydantic model, field by field (same
names, order, defaults, constraints, unknown fields refused; it never accepts what the model
refuses). `encode` then writes the bytes pydantic would write, except that floats from 1e16 up
read `1e16` where pydantic writes `1e+16` (the same JSON number), and that a NUL in a string
is stored as U+FFFD (`without_nul`).
tests/unit/test_compiled_schema.py checks both agree on every provider's events and on
generated ones; `to_model` gives the pydantic model when something needs it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Union, cast

import annotated_types
import msgspec
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from schemas.events import EVENT_MODELS, Event
from schemas.views import EventView

_STRUCTS: dict[type[BaseModel], type[msgspec.Struct]] = {}


def compile_model(model: type[BaseModel]) -> type[msgspec.Struct]:
    """The `msgspec.Struct` equivalent of a pydantic model (nested models compiled too)."""
    if model in _STRUCTS:
        return _STRUCTS[model]
    fields: list[tuple[str, Any, Any]] = []
    for name, info in model.model_fields.items():
        annotation = _compile_type(info.annotation)
        constraints = _constraints(info.metadata)
        if constraints:
            annotation = typing.Annotated[annotation, msgspec.Meta(**constraints)]
        if info.default_factory is not None:
            default: Any = msgspec.field(default_factory=_factory(info.default_factory))
            fields.append((name, annotation, default))
        elif info.default is not PydanticUndefined:
            fields.append((name, annotation, info.default))
        else:
            fields.append((name, annotation))  # type: ignore[arg-type]
    struct = msgspec.defstruct(
        f"{model.__name__}Struct",
        fields,
        kw_only=True,  # required fields may follow defaulted ones, as in pydantic
        forbid_unknown_fields=model.model_config.get("extra") == "forbid",
        module=__name__,
    )
    _STRUCTS[model] = struct
    return struct


def _compile_type(annotation: Any) -> Any:
    """Replace every pydantic model inside a type annotation by its compiled struct."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return compile_model(annotation)
    origin = typing.get_origin(annotation)
    if origin is None or origin is typing.Literal:
        return annotation
    args = tuple(_compile_type(arg) for arg in typing.get_args(annotation))
    if origin in (Union, types.UnionType):
        return Union[args]  # noqa: UP007 (a runtime-built union of computed members)
    return origin[args] if len(args) > 1 else origin[args[0]]


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    """Numeric and length bounds, the constraints the event models use."""
    names = {
        annotated_types.Ge: "ge",
        annotated_types.Gt: "gt",
        annotated_types.Le: "le",
        annotated_types.Lt: "lt",
        annotated_types.MinLen: "min_length",
        annotated_types.MaxLen: "max_length",
    }
    found: dict[str, Any] = {}
    for item in metadata:
        key = names.get(type(item))
        if key is None:
            raise TypeError(f"compile_model cannot translate the constraint {item!r}")
        found[key] = getattr(item, key)
    return found


def _factory(factory: Callable[..., Any]) -> Callable[[], Any]:
    if isinstance(factory, type) and issubclass(factory, BaseModel):
        return compile_model(factory)
    return factory


EVENT_STRUCTS: dict[str, type[msgspec.Struct]] = {
    kind: compile_model(model) for kind, model in EVENT_MODELS.items()
}
_ENCODER = msgspec.json.Encoder()


# An instance of one of `EVENT_STRUCTS`, seen through the read-only event view.
CompiledEvent = EventView


def build_event(kind: str, fields: dict[str, Any]) -> CompiledEvent:
    """Validate an adapter's fields as event type `kind` (raises `msgspec.ValidationError`).

    Lax enough for what adapters hand over (`strict=False`: "42" is accepted for an int
    field) and never laxer than the model: a few of pydantic's coercions, such as `true` for
    an int, are refused instead. Nested parts may be dicts or objects with the same
    attributes.
    """
    event = msgspec.convert(fields, EVENT_STRUCTS[kind], strict=False, from_attributes=True)
    return cast(CompiledEvent, event)


def decode(kind: str, payload: bytes) -> EventView:
    """A stored payload read back as its compiled twin, for code that only reads events
    (the bot detector): a fifth of validating it into the pydantic model."""
    return cast(EventView, msgspec.json.decode(payload, type=EVENT_STRUCTS[kind]))


def encode(event: CompiledEvent) -> bytes:
    """The stored payload: the JSON bytes the event's pydantic model would write, except
    that a NUL in any string is stored as U+FFFD (`without_nul`)."""
    data = _ENCODER.encode(event)
    return without_nul(data) if _ESCAPED_NUL in data else data


_ESCAPED_NUL = b"\\u0000"  # how JSON writes a NUL inside a string


def without_nul(data: bytes) -> bytes:
    """`data` with every NUL in its strings (and keys) replaced by U+FFFD.

    An ESP may send "\\u0000" in a campaign name or a URL. The event's own bytes could hold
    it, but what the worker derives from them (report keys, scenario state, bot evidence) is
    text, which PostgreSQL refuses with a NUL: one such event would stop routing for all.
    The provider's item stays as it came in the event's `raw`. The search for the escape is
    the only cost on the usual path (no NUL); an escaped backslash before "u0000" takes the
    slow path and comes out unchanged.
    """
    return _ENCODER.encode(_replace_nul(msgspec.json.decode(data)))


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_nul(item) for item in value]
    return value


def to_model(event: CompiledEvent) -> Event:
    """The pydantic model of a compiled event (validated from its own bytes)."""
    model = EVENT_MODELS[event.type]
    return model.model_validate_json(_ENCODER.encode(event))


def validation_problem(error: msgspec.ValidationError) -> str:
    """`where: what` like pydantic's first error (msgspec says "what - at `$.where`")."""
    message = str(error)
    what, _, where = message.rpartition(" - at `$.")
    return f"{where.rstrip('`')}: {what}" if what else message
