"""The configuration reference, generated from the settings models themselves.

`connector config-reference` prints it and `docs/configuration.md` is its committed copy
(a test fails when they differ), so every key, its type, default and meaning are
documented in one place that cannot drift from what the loader accepts.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from connector.settings import Settings

INTRO = """# Configuration reference

Generated from the settings models by `connector config-reference`; do not edit by hand.
One TOML file (`connector serve --config FILE`); `${VAR}` and `${VAR:-default}` in any
string are replaced from the environment. `[[name]]` sections are lists: repeat them.
"""


def reference() -> str:
    parts = [INTRO]
    for name, field in Settings.model_fields.items():
        variants = _models_of(field.annotation)
        heading = f"[[{name}]]" if _is_list(field.annotation) else f"[{name}]"
        for model in variants:
            kind = _kind(model)
            parts.append(_section(f"{heading}{kind}", model))
    return "\n".join(parts)


def _kind(model: type[BaseModel]) -> str:
    """` type = "http"` for a variant picked by its `type` (actions)."""
    field = model.model_fields.get("type")
    if field is None or len(_models_of_union_parent(model)) <= 1:
        return ""
    return f' type = "{field.default}"'


def _models_of_union_parent(model: type[BaseModel]) -> list[type[BaseModel]]:
    for field in Settings.model_fields.values():
        found = _models_of(field.annotation)
        if model in found:
            return found
    return [model]


def _section(heading: str, model: type[BaseModel]) -> str:
    lines = [f"## `{heading}`", ""]
    doc = (model.__doc__ or "").strip().split("\n\n")[0]
    if doc and not doc.startswith(("Usage docs", "!!!")):
        lines += [" ".join(doc.split()), ""]
    lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [_row(key, info) for key, info in _fields(model)]
    lines.append("")
    for key, info in _fields(model):
        nested = _model_of(info.annotation)
        if nested is not None and nested is not model:
            sub = f"{heading.strip('[]')}.{key}"
            brackets = ("[[", "]]") if _is_list(info.annotation) else ("[", "]")
            lines.append(_section(f"{brackets[0]}{sub}{brackets[1]}", nested))
    return "\n".join(lines)


def _fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    for key, info in model.model_fields.items():
        yield (info.alias or key), info


def _row(key: str, info: FieldInfo) -> str:
    meaning = " ".join((info.description or "").split()).replace("|", "\\|")
    return f"| `{key}` | {_type(info.annotation)} | {_default(info)} | {meaning} |"


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        value: Any = info.default_factory()  # type: ignore[call-arg]
    else:
        value = info.default
    if value is PydanticUndefined or value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, SecretStr):
        return "secret"
    return f"`{value!r}`".replace("|", "\\|")


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys(_type(arg) for arg in get_args(annotation)))
    if origin is typing.Literal:
        return " \\| ".join(f"`{value!r}`" for value in get_args(annotation))
    if origin in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    if annotation is type(None):
        return "none"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "table"
        if annotation is SecretStr:
            return "secret string"
        plain = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
        return plain.get(annotation.__name__) or _NAMES.get(
            annotation.__name__, annotation.__name__
        )
    name = getattr(annotation, "__name__", str(annotation))
    return _NAMES.get(name, name.replace("typing.", ""))


# Types whose Python names mean little in a TOML file.
_NAMES = {
    "Leaf": "condition table",
    "AllOf": "condition table",
    "AnyOf": "condition table",
    "NotOf": "condition table",
    "LinkPattern": "link pattern",
    "IPvAnyNetwork": "network (CIDR)",
    "datetime": "date-time",
}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds (directly, in a list, or as the first of a union)."""
    found = _models_of(annotation)
    return found[0] if found else None


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """Every settings model a field may hold: one, or each variant of a union."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += [model for model in _models_of(arg) if model not in found]
    return found


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) in (list, tuple)
