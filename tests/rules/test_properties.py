"""Property tests: no event and no valid rule tree makes decide() raise; not/all/any laws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.fields import MISSING, resolve
from connector.rules.conditions import (
    AllOf,
    AnyOf,
    Condition,
    Leaf,
    NotOf,
    dump_condition,
    parse_condition,
)
from connector.rules.engine import Lookup, RuleSet, compile_condition
from connector.rules.model import RuleSettings
from tests.rules.support import click_event

FIELDS = [
    "type",
    "test",
    "occurred_at",
    "recipient.email",
    "message.campaign_id",
    "message.link_count",
    "link.url",
    "link.host",
    "link.id",
    "link.scheme",
    "link.path",
    "link.fragment",
    "link.query",
    "link.query.utm_source",
    "bot.suspected",
    "bot.score",
    "bot.reasons.0.code",
    "bot.reasons.-1.points",
    "metadata.tags",
    "metadata.a",
    "metadata.a.b",
    "metadata.0",
]
REGEXES = ["^https://", "pricing", r"\d+", "(a|b)+$", "", "[A-Z]"]

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
json_values = st.recursive(
    st.none() | scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))])
_low, _high = datetime(1, 1, 2), datetime(9999, 12, 30)
dates = st.datetimes(_low, _high) | st.datetimes(_low, _high, timezones=_zones)
urls = st.one_of(
    st.text(max_size=40),
    st.builds(
        "{}://{}{}?{}#{}".format,
        st.sampled_from(["https", "http", "mailto", "", "HTTP"]),
        st.text(max_size=12),
        st.text(max_size=12),
        st.text(max_size=12),
        st.text(max_size=5),
    ),
    st.sampled_from(["https://x.us5.list-manage.com/unsubscribe?u=1", "#top", "http://[::1"]),
)

OPERANDS: dict[str, st.SearchStrategy[Any]] = {
    "eq": json_values.filter(lambda v: v is not None),
    "ne": json_values.filter(lambda v: v is not None),
    "in": st.lists(scalars, min_size=1, max_size=4),
    "not_in": st.lists(scalars, min_size=1, max_size=4),
    "contains": scalars,
    "starts_with": st.text(max_size=6) | st.lists(st.text(max_size=6), min_size=1, max_size=3),
    "ends_with": st.text(max_size=6) | st.lists(st.text(max_size=6), min_size=1, max_size=3),
    "matches": st.sampled_from(REGEXES),
    "exists": st.booleans(),
    "gt": st.integers() | st.floats() | st.text(max_size=20) | dates,
    "gte": st.integers() | st.floats() | st.text(max_size=20) | dates,
    "lt": st.integers() | st.floats() | st.text(max_size=20) | dates,
    "lte": st.integers() | st.floats() | st.text(max_size=20) | dates,
}


@st.composite
def leaf_tables(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(sorted(OPERANDS)))
    table = {"field": draw(st.sampled_from(FIELDS)), op: draw(OPERANDS[op])}
    if draw(st.booleans()):
        table["case_insensitive"] = draw(st.booleans())
    return table


conditions = st.recursive(
    leaf_tables(),
    lambda inner: st.one_of(
        st.builds(lambda items: {"all": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda items: {"any": items}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, inner),
    ),
    max_leaves=8,
)

realistic_events = st.builds(
    lambda base, url, host, test, kind, meta, score, email: (
        base
        | {
            "type": kind,
            "test": test,
            "link": {**base["link"], "url": url, "host": host},
            "metadata": meta,
            "bot": {**base["bot"], "score": score},
            "recipient": {"email": email, "id": None},
        }
    ),
    st.just(click_event()),
    urls,
    st.none() | st.text(max_size=10),
    json_values,
    st.sampled_from(["email.clicked", "email.delivered"]) | json_values,
    json_values,
    json_values,
    json_values,
)
any_events = st.one_of(
    realistic_events,
    st.dictionaries(
        st.sampled_from(["type", "link", "test", "bot"]) | st.text(max_size=5), json_values
    ),
)


@settings(max_examples=120, deadline=None)
@given(
    trees=st.lists(conditions, min_size=1, max_size=4),
    flags=st.lists(st.booleans(), min_size=2, max_size=2),
    event=any_events,
)
def test_decide_never_raises(
    trees: list[dict[str, Any]], flags: list[bool], event: dict[str, Any]
) -> None:
    """Arbitrary JSON events through arbitrary valid rule trees always give a full decision."""
    rules = [
        RuleSettings.model_validate(
            {
                "id": f"r{i}",
                "actions": ["a", f"b{i}"],
                "when": tree,
                "event": ["email.clicked", "email.delivered"] if i % 2 else "email.clicked",
                "include_test_sends": flags[0],
                "include_system_links": flags[1],
            }
        )
        for i, tree in enumerate(trees)
    ]
    decision = RuleSet.from_settings(rules).decide(event)
    assert len(decision.matched) + len(decision.unmatched) == len(rules)
    assert all(len(item["reason"]) < 2000 for item in decision.unmatched)
    assert {t.action for t in decision.actions()} <= {"a"} | {f"b{i}" for i in range(len(trees))}


@settings(max_examples=120, deadline=None)
@given(table=leaf_tables(), event=realistic_events)
def test_not_inverts_a_leaf_on_present_fields(table: dict[str, Any], event: dict[str, Any]) -> None:
    """For a present field, `not` is exactly the opposite; ne/not_in are not-eq/not-in."""
    value = resolve(event, table["field"])
    if value is MISSING or value is None:
        return
    leaf = parse_condition(table)
    values = Lookup(event)
    holds = compile_condition(leaf).test(values)
    assert compile_condition(NotOf(leaf)).test(values) is (not holds)
    assert isinstance(leaf, Leaf)
    opposite = {"eq": "ne", "ne": "eq"}.get(leaf.op)
    if opposite is not None:
        flipped = Leaf(leaf.field, opposite, leaf.value, leaf.case_insensitive)  # type: ignore[arg-type]
        assert compile_condition(flipped).test(values) is (not holds)
    if leaf.op == "in" and isinstance(value, (str, int, float)):
        flipped = Leaf(leaf.field, "not_in", leaf.value, leaf.case_insensitive)
        assert compile_condition(flipped).test(values) is (not holds)


@settings(max_examples=120, deadline=None)
@given(table=conditions, event=any_events)
def test_single_item_all_and_any_equal_the_item(
    table: dict[str, Any], event: dict[str, Any]
) -> None:
    """all([a]) == a == any([a]), and double negation is the identity."""
    item: Condition = parse_condition(table)
    values = Lookup(event)
    expected = compile_condition(item).test(values)
    assert compile_condition(AllOf((item,))).test(values) is expected
    assert compile_condition(AnyOf((item,))).test(values) is expected
    assert compile_condition(NotOf(NotOf(item))).test(values) is expected


@settings(max_examples=100, deadline=None)
@given(table=conditions)
def test_dump_then_parse_is_identity(table: dict[str, Any]) -> None:
    """Every valid tree survives dump_condition -> parse_condition unchanged."""
    parsed = parse_condition(table)
    assert parse_condition(dump_condition(parsed)) == parsed
