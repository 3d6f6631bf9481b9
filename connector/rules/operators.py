"""Turns one leaf into a predicate over a resolved field value, plus the text explaining it.

Implements the semantics documented in `connector.rules.model`. Everything that can be decided
from the config alone (operand type, case folding, regex, the set for `in`) is decided here,
once, so a predicate is a few comparisons. Predicates never raise: a value of the wrong type
simply does not match.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connector.fields import MISSING
from connector.rules.conditions import Leaf

Predicate = Callable[[Any], bool]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
_SHOW_LIMIT = 60


def predicate(leaf: Leaf) -> Predicate:
    """True when the resolved value (possibly `MISSING` or None) satisfies the leaf.

    Every builder below is false for `MISSING` and None by construction (they fail the type
    test), except `ne` / `not_in`, which check presence themselves; no wrapper call is needed.
    """
    if leaf.op == "exists":
        wanted: bool = leaf.value
        return lambda value: (value is not None and value is not MISSING) is wanted
    return _BUILDERS[leaf.op](leaf.value, leaf.case_insensitive)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same(left: Any, right: Any, fold: bool = False) -> bool:
    """JSON equality: `false != 0`, `1 == 1.0`, lists and tables compared item by item."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold() if fold else left == right
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            same(a, b, fold) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k], fold) for k in left)
    return False


def _key(value: Any, fold: bool) -> tuple[str, Any] | None:
    """A hashable stand-in with JSON equality, for `in` / `not_in` set lookups."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value.casefold() if fold else value)
    return None


def _eq(target: Any, fold: bool) -> Predicate:
    if isinstance(target, str):
        if fold:
            text = target.casefold()
            return lambda value: isinstance(value, str) and value.casefold() == text
        # `==` between a str and any other JSON value (or MISSING) is simply False.
        return lambda value: value == target
    if isinstance(target, bool):
        return lambda value: value is target  # JSON booleans are the two singletons
    return lambda value: same(value, target, fold)


def _ne(target: Any, fold: bool) -> Predicate:
    equal = _eq(target, fold)
    return lambda value: value is not None and value is not MISSING and not equal(value)


def _in(targets: tuple[Any, ...], fold: bool) -> Predicate:
    keys = frozenset(_key(target, fold) for target in targets)
    if not fold and all(isinstance(target, str) for target in targets):
        texts = frozenset(targets)
        return lambda value: isinstance(value, str) and value in texts
    return lambda value: _key(value, fold) in keys


def _not_in(targets: tuple[Any, ...], fold: bool) -> Predicate:
    keys = frozenset(_key(target, fold) for target in targets)

    def test(value: Any) -> bool:
        key = _key(value, fold)  # None for missing, null, lists and tables: not comparable
        return key is not None and key not in keys

    return test


def _contains(target: Any, fold: bool) -> Predicate:
    def test(value: Any) -> bool:
        if isinstance(value, list):
            return any(same(item, target, fold) for item in value)
        if isinstance(value, str) and isinstance(target, str):
            return target.casefold() in value.casefold() if fold else target in value
        return False

    return test


def _affix(method: str) -> Callable[[tuple[str, ...], bool], Predicate]:
    def build(targets: tuple[str, ...], fold: bool) -> Predicate:
        wanted = tuple(t.casefold() for t in targets) if fold else targets
        check: Callable[[str, tuple[str, ...]], bool] = getattr(str, method)
        if fold:
            return lambda value: isinstance(value, str) and check(value.casefold(), wanted)
        return lambda value: isinstance(value, str) and check(value, wanted)

    return build


def _matches(pattern: str, fold: bool) -> Predicate:
    compiled = re.compile(pattern, re.IGNORECASE if fold else 0)
    return lambda value: isinstance(value, str) and compiled.search(value) is not None


def as_datetime(value: Any) -> datetime | None:
    """An aware datetime for a date, datetime or ISO 8601 string; naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _ordering(op: str) -> Callable[[Any, bool], Predicate]:
    compare = _COMPARE[op]

    def build(target: Any, fold: bool) -> Predicate:
        if is_number(target):
            return lambda value: is_number(value) and compare(value, target)
        moment = as_datetime(target)
        if moment is not None:

            def by_time(value: Any) -> bool:
                other = as_datetime(value)
                return other is not None and compare(other, moment)

            return by_time
        text = target.casefold() if fold else target
        if fold:
            return lambda value: isinstance(value, str) and compare(value.casefold(), text)
        return lambda value: isinstance(value, str) and compare(value, text)

    return build


_BUILDERS: dict[str, Callable[[Any, bool], Predicate]] = {
    "eq": _eq,
    "ne": _ne,
    "in": _in,
    "not_in": _not_in,
    "contains": _contains,
    "starts_with": _affix("startswith"),
    "ends_with": _affix("endswith"),
    "matches": _matches,
    **{op: _ordering(op) for op in _COMPARE},
}


def explainer(leaf: Leaf) -> Callable[[Any], str]:
    """`link.host eq 'shop.example.org' was 'other.example'`: the leaf and the value it met.

    The leaf's own half is rendered once, here; only the actual value is shown per event.
    """
    if leaf.op == "exists":
        if leaf.value:
            missing = f"{leaf.field} is missing"
            return lambda value: missing
        present = f"{leaf.field} exists"
        return lambda value: f"{present} (was {show(value)})"
    operand = leaf.value
    if isinstance(operand, tuple):
        operand = operand[0] if len(operand) == 1 and leaf.op.endswith("_with") else list(operand)
    folded = " (case-insensitive)" if leaf.case_insensitive else ""
    prefix = f"{leaf.field} {leaf.op} {show(operand)}{folded} was "
    return lambda value: prefix + show(value)


def show(value: Any) -> str:
    """A short, safe rendering of a value: never a whole payload."""
    if value is MISSING:
        return "missing"
    if isinstance(value, str):
        return repr(_cut(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        text = f"<{type(value).__name__}>"
    return _cut(text)


def _cut(text: str) -> str:
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 1] + "…"
