"""The routing decision stored with each event: which rules matched, which did not, and why.

Plain JSON-shaped dicts, so storage, the `rules test` CLI and downstream tools read the same
thing. Fan-out is one delivery per (event, action): when several matching rules name the same
action, `actions()` returns it once and `rules_for()` lists every rule that wanted it (the
delivery records them all). Immediate rules come first, because the service sends those now
and would ignore the same action again from a `wait_for_settled` rule later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypedDict


class MatchedRule(TypedDict):
    rule: str
    actions: list[str]
    wait_for_settled: bool


class UnmatchedRule(TypedDict):
    rule: str
    reason: str


class ActionTarget(NamedTuple):
    """One delivery to make: the action, and the rule that owns it (the first to want it)."""

    rule: str
    action: str


@dataclass(frozen=True, slots=True)
class Decision:
    matched: list[MatchedRule] = field(default_factory=list)
    unmatched: list[UnmatchedRule] = field(default_factory=list)

    def actions(self) -> list[ActionTarget]:
        """Ordered, de-duplicated by action id: immediate rules first, then settled ones."""
        seen: set[str] = set()
        targets: list[ActionTarget] = []
        for settled in (False, True):
            for match in self.matched:
                if match["wait_for_settled"] is not settled:
                    continue
                for action in match["actions"]:
                    if action not in seen:
                        seen.add(action)
                        targets.append(ActionTarget(match["rule"], action))
        return targets

    def rules_for(self, action: str) -> list[str]:
        """Every matched rule naming `action`, in config order."""
        return [match["rule"] for match in self.matched if action in match["actions"]]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, as stored with the event."""
        return {
            "matched": [
                {
                    "rule": m["rule"],
                    "actions": list(m["actions"]),
                    "wait_for_settled": m["wait_for_settled"],
                }
                for m in self.matched
            ],
            "unmatched": [{"rule": u["rule"], "reason": u["reason"]} for u in self.unmatched],
        }
