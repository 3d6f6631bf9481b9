"""A rule's `when`: the condition tree, parsed from TOML tables and dumped back to them.

A leaf is `{field = "link.host", <op> = <value>}` (plus an optional `case_insensitive`);
composites are `{all = [...]}`, `{any = [...]}` and `{not = {...}}`. Parsing stops at the first
problem and reports where it is inside `when` (`ConditionError.loc`), so `check-config` can say
`rules[0].when.all[2].equals: unknown key 'equals' (did you mean 'eq'?)` instead of a wall of
union errors. Values are checked against their operator here, once, so the engine never meets
a value it cannot compare.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal, TypeAlias, get_args

Operator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "exists",
    "gt",
    "gte",
    "lt",
    "lte",
]
OPERATORS: tuple[str, ...] = get_args(Operator)
ORDERING = frozenset({"gt", "gte", "lt", "lte"})
COMPOSITES = ("all", "any", "not")
# Words people reach for first, mapped to our operator, for "did you mean" hints.
_ALIASES = {
    "equals": "eq",
    "is": "eq",
    "==": "eq",
    "not_equals": "ne",
    "!=": "ne",
    "one_of": "in",
    "regex": "matches",
    "includes": "contains",
    "has": "contains",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
}
MAX_DEPTH = 32  # deeper trees are a config mistake, and would strain recursion

Loc: TypeAlias = tuple[str | int, ...]


class ConditionError(ValueError):
    """One problem in a condition, with its key path relative to `when`."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


@dataclass(frozen=True, slots=True)
class Leaf:
    field: str
    op: Operator
    value: Any
    case_insensitive: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class NotOf:
    item: Condition


Condition: TypeAlias = Leaf | AllOf | AnyOf | NotOf


def parse_condition(raw: Any, loc: Loc = ()) -> Condition:
    """The condition tree for a TOML table; raises `ConditionError` naming the bad key."""
    if len(loc) > MAX_DEPTH * 2:
        raise ConditionError(loc, f"conditions are nested more than {MAX_DEPTH} levels deep")
    if not isinstance(raw, dict):
        raise ConditionError(loc, f"a condition must be a table, got {kind(raw)}")
    composite = [key for key in COMPOSITES if key in raw]
    if not composite:
        return _parse_leaf(raw, loc)
    key = composite[0]
    if len(raw) != 1:
        others = ", ".join(repr(k) for k in raw if k != key)
        raise ConditionError(loc, f"{key!r} cannot be combined with {others} in one table")
    if key == "not":
        return NotOf(parse_condition(raw["not"], (*loc, "not")))
    items = raw[key]
    if not isinstance(items, list) or not items:
        raise ConditionError(
            (*loc, key), f"expected a non-empty list of conditions, got {kind(items)}"
        )
    parsed = tuple(parse_condition(item, (*loc, key, i)) for i, item in enumerate(items))
    return AllOf(parsed) if key == "all" else AnyOf(parsed)


def _parse_leaf(raw: dict[str, Any], loc: Loc) -> Leaf:
    allowed = ("field", "case_insensitive", *OPERATORS)
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), [*allowed, *COMPOSITES], n=1)
            guess = _ALIASES.get(str(key).lower()) or (close[0] if close else None)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise ConditionError(
                (*loc, key), f"unknown key {key!r}{hint}; operators are {', '.join(OPERATORS)}"
            )
    field = raw.get("field")
    if not isinstance(field, str) or not field.strip():
        where = (*loc, "field") if "field" in raw else loc
        raise ConditionError(where, "a condition needs 'field', a dotted path like 'link.host'")
    ops = [key for key in raw if key in OPERATORS]
    if len(ops) != 1:
        found = " and ".join(repr(op) for op in ops) or "none"
        raise ConditionError(
            (*loc, ops[1]) if ops else loc,
            f"a condition on {field!r} takes exactly one operator (found {found}); "
            "combine several with all/any",
        )
    op: Operator = ops[0]  # type: ignore[assignment]  # membership in OPERATORS checked above
    case_insensitive = raw.get("case_insensitive", False)
    if not isinstance(case_insensitive, bool):
        raise ConditionError(
            (*loc, "case_insensitive"), f"expected true or false, got {kind(case_insensitive)}"
        )
    value = check_value(op, raw[op], case_insensitive, (*loc, op))
    return Leaf(field, op, value, case_insensitive)


_SCALARS = (str, int, float)  # bool is an int subclass, so it is included


def check_value(op: Operator, value: Any, case_insensitive: bool, loc: Loc) -> Any:
    """The operand in the form the engine expects, or a `ConditionError` saying what fits."""
    if op == "exists":
        if not isinstance(value, bool):
            raise ConditionError(loc, f"expected true or false, got {kind(value)}")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(
                loc, f'expected a non-empty list like ["a", "b"], got {kind(value)}'
            )
        for index, item in enumerate(value):
            if not isinstance(item, _SCALARS):
                raise ConditionError(
                    (*loc, index),
                    f"list items must be strings, numbers or booleans, not {kind(item)}",
                )
        return tuple(value)
    if op in ("starts_with", "ends_with"):
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) for item in items):
            raise ConditionError(loc, f"expected a string or a list of strings, got {kind(value)}")
        return tuple(items)
    if op == "matches":
        if not isinstance(value, str):
            raise ConditionError(loc, f"expected a regular expression string, got {kind(value)}")
        try:
            re.compile(value, re.IGNORECASE if case_insensitive else 0)
        except re.error as error:
            raise ConditionError(loc, f"invalid regular expression {value!r}: {error}") from None
        return value
    if op in ORDERING:
        if isinstance(value, bool) or not isinstance(value, (int, float, str, date)):
            raise ConditionError(loc, f"expected a number, string or date, got {kind(value)}")
        return value
    if op == "contains":
        if not isinstance(value, _SCALARS):
            raise ConditionError(loc, f"expected a string, number or boolean, got {kind(value)}")
        return value
    # eq / ne: any JSON value; dates are compared with gt/gte/lt/lte instead.
    if value is None or isinstance(value, (date, time)):
        raise ConditionError(loc, f"cannot compare with {kind(value)}; dates need gt/gte/lt/lte")
    return value


def iter_leaves(condition: Condition, loc: Loc = ()) -> Iterator[tuple[Loc, Leaf]]:
    """Every leaf with its key path, for checks that need the whole rule (field paths)."""
    if isinstance(condition, Leaf):
        yield loc, condition
    elif isinstance(condition, NotOf):
        yield from iter_leaves(condition.item, (*loc, "not"))
    else:
        key = "all" if isinstance(condition, AllOf) else "any"
        for index, item in enumerate(condition.items):
            yield from iter_leaves(item, (*loc, key, index))


def dump_condition(condition: Condition) -> dict[str, Any]:
    """The TOML-shaped table for a condition; `parse_condition` reads it back unchanged."""
    if isinstance(condition, Leaf):
        value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
        out: dict[str, Any] = {"field": condition.field, condition.op: value}
        if condition.case_insensitive:
            out["case_insensitive"] = True
        return out
    if isinstance(condition, NotOf):
        return {"not": dump_condition(condition.item)}
    key = "all" if isinstance(condition, AllOf) else "any"
    return {key: [dump_condition(item) for item in condition.items]}


def kind(value: Any) -> str:
    """A value's type in TOML words, for messages a config author can act on."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (datetime, date)):
        return "a date"
    if isinstance(value, time):
        return "a time of day"
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) <= 40 else "a string"
    names = {int: "an integer", float: "a float", list: "a list", dict: "a table"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    return type(value).__name__
