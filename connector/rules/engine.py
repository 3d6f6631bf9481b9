"""Routes an event through the configured rules: `RuleSet.decide(event) -> Decision`.

Rules are compiled once into closures (`RuleSet.from_settings`); `decide` then walks them in
config order, resolving each field path at most once per event through the shared resolver
(`connector.fields.resolve`). A rule is skipped, with the reason recorded, when the event type
is not one it handles, when the event is an ESP test send, or when the clicked link is a system
link (see `links.py`), unless the rule opts in. Explanations are only built for rules that did
not match, so the common path is a handful of dict lookups and comparisons per rule.
`decide` never raises on any JSON-shaped input: it runs after the webhook was accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from connector.errors import ConfigError
from connector.fields import resolve
from connector.rules.conditions import AllOf, AnyOf, Condition, Leaf
from connector.rules.decision import Decision, MatchedRule, UnmatchedRule
from connector.rules.links import classify_link
from connector.rules.model import RuleSettings
from connector.rules.operators import explainer, predicate, show
from connector.rules.scenario_model import LinkPattern, link_selected
from providers.canonical import canonical_url

_UNSET: Any = object()


class Lookup(dict[str, Any]):
    """Field values of one event, each resolved on first use: `values[path]` is a C-level
    dict hit after that, which keeps a leaf to two small calls."""

    __slots__ = ("event",)

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event

    def __missing__(self, path: str) -> Any:
        value = self[path] = resolve(self.event, path)
        return value


class _Node(Protocol):
    test: Callable[[Lookup], bool]

    def failed(self, values: Lookup) -> str:
        """Why the node is false (called only when it is)."""

    def held(self, values: Lookup) -> str:
        """Why the node is true; `not` uses it to explain its own failure."""


class _LeafNode:
    __slots__ = ("explain", "path", "test")

    def __init__(self, leaf: Leaf) -> None:
        check, path = predicate(leaf), leaf.field
        self.path = path
        self.explain = explainer(leaf)
        self.test: Callable[[Lookup], bool] = lambda values: check(values[path])

    def failed(self, values: Lookup) -> str:
        return self.explain(values[self.path])

    held = failed


class _AllNode:
    __slots__ = ("items", "test")

    def __init__(self, items: Sequence[_Node]) -> None:
        self.items = items
        tests = tuple(item.test for item in items)

        def test(values: Lookup) -> bool:
            for check in tests:  # noqa: SIM110  (hot path: a loop beats all() + generator)
                if not check(values):
                    return False
            return True

        self.test: Callable[[Lookup], bool] = tests[0] if len(tests) == 1 else test

    def failed(self, values: Lookup) -> str:
        return next(item.failed(values) for item in self.items if not item.test(values))

    def held(self, values: Lookup) -> str:
        if len(self.items) == 1:
            return self.items[0].held(values)
        return f"all {len(self.items)} held, first: {self.items[0].held(values)}"


class _AnyNode:
    __slots__ = ("items", "test")

    def __init__(self, items: Sequence[_Node]) -> None:
        self.items = items
        tests = tuple(item.test for item in items)

        def test(values: Lookup) -> bool:
            for check in tests:  # noqa: SIM110  (hot path: a loop beats any() + generator)
                if check(values):
                    return True
            return False

        self.test: Callable[[Lookup], bool] = tests[0] if len(tests) == 1 else test

    def failed(self, values: Lookup) -> str:
        if len(self.items) == 1:
            return self.items[0].failed(values)
        return f"none of {len(self.items)} held, first: {self.items[0].failed(values)}"

    def held(self, values: Lookup) -> str:
        return next(item.held(values) for item in self.items if item.test(values))


class _NotNode:
    __slots__ = ("item", "test")

    def __init__(self, item: _Node) -> None:
        self.item = item
        inner = item.test
        self.test: Callable[[Lookup], bool] = lambda values: not inner(values)

    def failed(self, values: Lookup) -> str:
        return f"not: {self.item.held(values)}"

    def held(self, values: Lookup) -> str:
        return f"not: {self.item.failed(values)}"


def compile_condition(condition: Condition) -> _Node:
    """The closure tree for a parsed condition."""
    if isinstance(condition, Leaf):
        return _LeafNode(condition)
    if isinstance(condition, AllOf):
        return _AllNode([compile_condition(item) for item in condition.items])
    if isinstance(condition, AnyOf):
        return _AnyNode([compile_condition(item) for item in condition.items])
    return _NotNode(compile_condition(condition.item))


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule flattened for the hot loop: plain attributes, nothing recomputed per event."""

    id: str
    events: frozenset[str]
    actions: tuple[str, ...]  # a wait's on_click
    on_timeout: tuple[str, ...]
    wait_for_settled: bool
    include_test_sends: bool
    include_system_links: bool
    node: _Node | None
    wrong_type: str
    links: tuple[LinkPattern, ...] | None
    scheduled: str | None  # why a check's rule does not fire as clicks arrive

    @classmethod
    def build(cls, rule: RuleSettings) -> _Rule:
        return cls(
            id=rule.id,
            events=frozenset(rule.event),
            actions=tuple(rule.actions or rule.on_click),
            on_timeout=tuple(rule.on_timeout),
            wait_for_settled=rule.wait_for_settled,
            include_test_sends=rule.include_test_sends,
            include_system_links=rule.include_system_links,
            node=None if rule.when is None else compile_condition(rule.when),
            wrong_type=f" is not {' or '.join(rule.event)}",
            links=rule.links,
            scheduled=(
                f"fires from its check (trigger = {rule.trigger}), not as clicks arrive"
                if rule.scheduled
                else None
            ),
        )


class RuleSet:
    """The compiled rules, in config order; build once with `from_settings`, share freely."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = tuple(rules)

    @classmethod
    def from_settings(cls, rules: Iterable[RuleSettings]) -> RuleSet:
        """Compile the rules; duplicate ids are a `ConfigError` (decisions name rules by id)."""
        chosen = list(rules)
        seen: set[str] = set()
        problems = []
        for index, rule in enumerate(chosen):
            if rule.id in seen:
                problems.append(f"rules[{index}].id: duplicate rule id {rule.id!r}")
            seen.add(rule.id)
        if problems:
            raise ConfigError(problems)
        return cls([_Rule.build(rule) for rule in chosen])

    def waiting(self) -> RuleSet:
        """The rules with `wait_for_settled`: the only ones the settled pass serves."""
        return RuleSet([rule for rule in self._rules if rule.wait_for_settled])

    @property
    def ids(self) -> list[str]:
        return [rule.id for rule in self._rules]

    def __len__(self) -> int:
        return len(self._rules)

    def decide(self, event: dict[str, Any]) -> Decision:
        """Which rules match `event` (a `model_dump(mode="json")`), and why the others do not.

        An event a check or a wait emitted (it has a `scenario`) is decided by the rule that
        produced it alone; other rules never see it, so no real-time rule acts twice.
        """
        values = Lookup(event)
        scenario = event.get("scenario")
        if scenario is not None:
            return self._decide_scheduled(values, scenario)
        raw_kind = values["type"]
        kind = raw_kind if isinstance(raw_kind, str) else None  # junk must not reach `in`
        is_test = values["test"] is True
        system = _UNSET
        matched: list[MatchedRule] = []
        unmatched: list[UnmatchedRule] = []
        for rule in self._rules:
            reason: str | None = None
            if kind not in rule.events:
                reason = f"event type {show(raw_kind)}{rule.wrong_type}"
            elif is_test and not rule.include_test_sends:
                reason = "test send (include_test_sends is off)"
            elif not rule.include_system_links:
                if system is _UNSET:
                    url = values["link.url"]
                    system = classify_link(url) if isinstance(url, str) else None
                if system is not None:
                    reason = f"system link: {system} (include_system_links is off)"
            if reason is None and rule.scheduled is not None:
                reason = rule.scheduled
            if reason is None and rule.links is not None:
                reason = _link_unselected(rule.links, values)
            if reason is None and rule.node is not None and not rule.node.test(values):
                reason = rule.node.failed(values)
            if reason is None:
                matched.append(
                    {
                        "rule": rule.id,
                        "actions": list(rule.actions),
                        "wait_for_settled": rule.wait_for_settled,
                    }
                )
            else:
                unmatched.append({"rule": rule.id, "reason": reason})
        return Decision(matched, unmatched)

    def _decide_scheduled(self, values: Lookup, scenario: Any) -> Decision:
        """The producing rule's decision on a scheduled event (its `when` still applies)."""
        rule_id = scenario.get("rule") if isinstance(scenario, dict) else None
        rule = next((r for r in self._rules if r.id == rule_id), None)
        if rule is None:
            return Decision([], [{"rule": str(rule_id), "reason": "rule no longer configured"}])
        actions = rule.on_timeout if values["type"] == "email.click_timeout" else rule.actions
        if rule.node is not None and not rule.node.test(values):
            return Decision([], [{"rule": rule.id, "reason": rule.node.failed(values)}])
        if not actions:
            return Decision([], [{"rule": rule.id, "reason": "no actions for this outcome"}])
        return Decision(
            [{"rule": rule.id, "actions": list(actions), "wait_for_settled": False}], []
        )


def _link_unselected(links: tuple[LinkPattern, ...], values: Lookup) -> str | None:
    """Why the clicked link is not one the rule selects (None when it is)."""
    canonical = values["link.canonical"]
    if not isinstance(canonical, str):
        url = values["link.url"]
        canonical = canonical_url(url) if isinstance(url, str) else None
    if canonical is None:
        return "not a web link, so not one of the rule's links"
    if link_selected(links, canonical):
        return None
    return f"link {canonical} is not one of the rule's links"
