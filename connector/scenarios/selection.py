"""Which stored clicks count for a check: the rule's links, real links, real sends, people.

The same tests the real-time rules apply (system links and test sends skipped unless the
rule opts in), plus the person test: a check counts a click only when its latest verdict,
the settled one once it is in, says human, unless `include_bot_clicks` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.rules.model import RuleSettings
from connector.rules.scenario_model import LinkPattern, link_selected
from connector.storage.scenario_records import IndexedClick


@dataclass(frozen=True, slots=True)
class ClickFilter:
    links: tuple[LinkPattern, ...] | None
    include_system_links: bool
    include_test_sends: bool
    include_bot_clicks: bool

    @classmethod
    def of(cls, rule: RuleSettings) -> ClickFilter:
        return cls(
            links=rule.links,
            include_system_links=rule.include_system_links,
            include_test_sends=rule.include_test_sends,
            include_bot_clicks=rule.include_bot_clicks,
        )

    def counts(self, click: IndexedClick) -> bool:
        if not click.canonical:  # mailto:, tel:, anchors: never a click on a page
            return False
        if click.system and not self.include_system_links:
            return False
        if click.test and not self.include_test_sends:
            return False
        if click.suspected and not self.include_bot_clicks:
            return False
        return link_selected(self.links, click.canonical)
