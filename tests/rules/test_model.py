"""Rule config validation: the documented TOML loads, and every mistake names rule and key."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from connector.errors import ConfigError
from connector.rules.conditions import AllOf, Leaf, NotOf, dump_condition, parse_condition
from connector.rules.engine import RuleSet
from connector.rules.model import RuleSettings
from tests.rules.support import click_event, rule

EXAMPLE = """
[[rules]]
id = "pricing-humans"
actions = ["crm"]
wait_for_settled = true
when = { all = [
  { field = "link.host", eq = "shop.example.org" },
  { field = "link.path", starts_with = "/pricing" },
  { field = "link.query.utm_source", in = ["cio", "newsletter"] },
  { field = "bot.suspected", eq = false },
  { not = { field = "recipient.email", ends_with = "@example.com" } },
] }
"""


class _Config(BaseModel):
    rules: list[RuleSettings]


def problems(rules: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(dotted location, message) for every error, as `check-config` would list them."""
    with pytest.raises(ValidationError) as caught:
        _Config.model_validate({"rules": rules})
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


def one_problem(fields: dict[str, Any]) -> tuple[str, str]:
    found = problems([{"id": "my-rule", "actions": ["crm"], **fields}])
    assert len(found) == 1, found
    location, message = found[0]
    assert location.startswith("rules.0")
    return location.removeprefix("rules.0").lstrip("."), message


def test_documented_example_loads_and_routes() -> None:
    """The README example parses into the expected tree and matches a human pricing click."""
    settings = RuleSettings.model_validate(tomllib.loads(EXAMPLE)["rules"][0])
    assert settings.wait_for_settled is True and settings.event == ["email.clicked"]
    assert isinstance(settings.when, AllOf) and len(settings.when.items) == 5
    assert settings.when.items[4] == NotOf(Leaf("recipient.email", "ends_with", ("@example.com",)))
    decision = RuleSet.from_settings([settings]).decide(click_event())
    assert [m["rule"] for m in decision.matched] == ["pricing-humans"]


def test_toml_datetime_operand_is_accepted() -> None:
    """A TOML datetime literal can be compared with the ISO timestamps of the event."""
    data = tomllib.loads(
        '[[rules]]\nid = "new"\nactions = ["crm"]\n'
        'when = { field = "occurred_at", gte = 2025-01-01T00:00:00Z }\n'
    )
    settings = RuleSettings.model_validate(data["rules"][0])
    assert RuleSet.from_settings([settings]).decide(click_event()).matched


def test_dump_reads_back_to_the_same_rule() -> None:
    """model_dump gives TOML-shaped tables that validate back into an equal rule."""
    settings = RuleSettings.model_validate(tomllib.loads(EXAMPLE)["rules"][0])
    dumped = settings.model_dump()
    assert dumped["when"]["all"][0] == {"field": "link.host", "eq": "shop.example.org"}
    assert RuleSettings.model_validate(dumped) == settings


@pytest.mark.parametrize(
    ("when", "where", "words"),
    [
        (
            {"field": "link.host", "eqq": "x"},
            "when.eqq",
            ["unknown key 'eqq'", "did you mean 'eq'"],
        ),
        ({"field": "link.host", "eq": "x", "in": ["x"]}, "when.in", ["exactly one operator"]),
        ({"field": "link.host"}, "when", ["exactly one operator", "none"]),
        ({"eq": "x"}, "when", ["needs 'field'"]),
        ({"field": "", "eq": "x"}, "when.field", ["needs 'field'"]),
        ({"field": "link.host", "in": "cio"}, "when.in", ["non-empty list"]),
        ({"field": "link.host", "in": []}, "when.in", ["non-empty list"]),
        ({"field": "link.host", "in": ["a", ["b"]]}, "when.in.1", ["list items"]),
        (
            {"field": "link.url", "matches": "(unclosed"},
            "when.matches",
            ["invalid regular expression"],
        ),
        ({"field": "link.url", "matches": 5}, "when.matches", ["regular expression string"]),
        ({"field": "link.host", "exists": "yes"}, "when.exists", ["true or false"]),
        ({"field": "bot.score", "gt": True}, "when.gt", ["number, string or date"]),
        ({"field": "bot.score", "gt": [1]}, "when.gt", ["number, string or date"]),
        ({"field": "link.path", "starts_with": [1]}, "when.starts_with", ["list of strings"]),
        ({"field": "link.path", "contains": ["a"]}, "when.contains", ["string, number or boolean"]),
        (
            {"field": "occurred_at", "eq": tomllib.loads("d = 2025-01-01")["d"]},
            "when.eq",
            ["gt/gte"],
        ),
        (
            {"field": "link.host", "eq": "x", "case_insensitive": "yes"},
            "when.case_insensitive",
            ["true or false"],
        ),
        ({"all": []}, "when.all", ["non-empty list"]),
        ({"all": {"field": "link.host", "eq": "x"}}, "when.all", ["non-empty list"]),
        ({"any": [{"field": "link.host", "eq": "x"}, "oops"]}, "when.any.1", ["must be a table"]),
        ({"not": [{"field": "link.host", "eq": "x"}]}, "when.not", ["must be a table"]),
        (
            {"all": [{"field": "link.host", "eq": "x"}], "field": "x"},
            "when",
            ["cannot be combined"],
        ),
        ({"field": "link.hots", "eq": "x"}, "when.field", ["unknown field", "'link.host'"]),
        ({"not": {"field": "recipient.mail", "eq": "x"}}, "when.not.field", ["unknown field"]),
        ({"field": "bot.reasons.x.code", "eq": "x"}, "when.field", ["unknown field"]),
        ({"field": "bot.reasons.²", "eq": "x"}, "when.field", ["not a list index"]),
        ({"field": "link..host", "eq": "x"}, "when.field", ["empty part"]),
    ],
)
def test_condition_errors_name_rule_and_key(when: Any, where: str, words: list[str]) -> None:
    """Each mistake in `when` is reported at its exact key, prefixed with the rule id."""
    location, message = one_problem({"when": when})
    assert location == where
    assert message.startswith("rule 'my-rule': ")
    for word in words:
        assert word in message


def test_deep_nesting_is_refused() -> None:
    """Absurdly deep trees are a config error, not a recursion crash at run time."""
    tree: dict[str, Any] = {"field": "link.host", "eq": "x"}
    for _ in range(100):
        tree = {"not": tree}
    location, message = one_problem({"when": tree})
    assert location.startswith("when.not.not") and "nested" in message


def test_free_form_paths_are_accepted() -> None:
    """metadata.*, link.query.* and list indexes pass the schema check."""
    for field in ("metadata.any.depth", "link.query.utm_campaign", "bot.reasons.0.code", "type"):
        assert rule(when={"field": field, "exists": True}).when is not None


def test_field_must_exist_for_the_rules_event_types() -> None:
    """A link field on a delivered-only rule is unknown; with clicks in the list it is fine."""
    when = {"field": "link.host", "eq": "x"}
    location, message = one_problem({"event": "email.delivered", "when": when})
    assert location == "when.field" and "email.delivered" in message
    assert rule(event=["email.delivered", "email.clicked"], when=when).event == [
        "email.delivered",
        "email.clicked",
    ]


@pytest.mark.parametrize(
    ("fields", "where", "words"),
    [
        ({"event": "email.click"}, "event", ["unknown event type 'email.click'"]),
        ({"event": []}, "event", ["non-empty list"]),
        ({"event": [["email.clicked"]]}, "event", ["unknown event type"]),
        ({"actions": []}, "actions", ["at least one action"]),
        ({"actions": ["crm", "crm"]}, "actions", ["more than once"]),
        ({"actions": "crm"}, "actions", ["valid list"]),
        ({"wait_for_settled": "yes"}, "wait_for_settled", ["valid boolean"]),
        ({"include_test_sends": 1}, "include_test_sends", ["valid boolean"]),
        ({"colour": "red"}, "colour", ["Extra inputs"]),
        ({"id": "has space"}, "id", ["not a valid rule id"]),
    ],
)
def test_rule_field_errors_name_rule_and_key(
    fields: dict[str, Any], where: str, words: list[str]
) -> None:
    """Errors outside `when` also carry the rule id and the key."""
    location, message = one_problem(fields)
    assert location == where
    label = f"rule {fields.get('id', 'my-rule')!r}: "
    assert message.startswith(label)
    for word in words:
        assert word in message


def test_rule_without_id_is_named_by_position() -> None:
    """A rule lacking its id is reported at its list index with a clear label."""
    found = problems([{"id": "ok", "actions": ["a"]}, {"actions": ["a"]}])
    assert found == [("rules.1.id", "rule without an id: Field required")]


def test_duplicate_rule_ids_are_a_config_error() -> None:
    """Decisions name rules by id, so two rules with one id cannot be compiled."""
    with pytest.raises(ConfigError) as caught:
        RuleSet.from_settings([rule("same"), rule("other"), rule("same")])
    assert caught.value.problems == ["rules[2].id: duplicate rule id 'same'"]


def test_parse_condition_round_trips_through_dump() -> None:
    """dump_condition gives back the table parse_condition read."""
    table = {
        "any": [
            {"field": "link.host", "in": ["a", "b"], "case_insensitive": True},
            {"not": {"field": "link.path", "starts_with": ["/a", "/b"]}},
        ]
    }
    assert dump_condition(parse_condition(table)) == table
