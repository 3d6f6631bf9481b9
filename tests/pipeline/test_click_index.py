"""The click index is written only while a check rule can read it, and made whole for one."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

from connector.pipeline.click_index import fill_page
from tests.scenarios.harness import Harness
from tests.scenarios.support import SCANNER_UA, T0, event

HOUR = 3600.0
PRICING = "https://shop.example.org/pricing"
PEOPLE = ["ann", "bob", "cat", "dan", "eve", "fay"]
PLAIN = [{"id": "humans", "actions": ["log"]}]
CHECK = [
    {
        "id": "nudge",
        "trigger": "not_clicked",
        "links": [PRICING],
        "at": "2026-12-02T09:00:00+00:00",  # T0 + 24 h
        "send": {"campaign_id": "spring"},
        "actions": ["crm"],
    }
]


def _route_campaign(path: Path, rules: list[dict[str, Any]]) -> None:
    """6 delivered; ann and fay click pricing (fay's click still settling at the end), cat
    another page, dan only with a scanner's agent; routed and settled up to T0 + 1 h."""
    h = Harness(path, rules)
    h.ingest(*[event("email.delivered", p, T0) for p in PEOPLE])
    h.ingest(
        event("email.clicked", "ann", T0 + 600, url=PRICING),
        event("email.clicked", "cat", T0 + 700, url="https://shop.example.org/blog"),
        event("email.clicked", "dan", T0 + 2, url=PRICING, user_agent=SCANNER_UA),
        event("email.clicked", "fay", T0 + HOUR - 10, url=PRICING),
    )
    h.run(T0 + HOUR)
    h.close()


def _indexed(path: Path) -> tuple[int, int]:
    """(clicks in the index, gap markers)."""
    with sqlite3.connect(path) as conn:
        clicks = conn.execute("SELECT COUNT(*) FROM clicks").fetchone()[0]
        return clicks, conn.execute("SELECT COUNT(*) FROM scenario_state").fetchone()[0]


def _fill(h: Harness, now: float) -> None:
    after: int | None = 0
    while after is not None:
        page = partial(fill_page, engine=h.engine, after=after, now=now, page=2)
        after = h.store.transaction_sync(page)


def test_without_a_check_rule_no_click_is_indexed_and_a_gap_opens(tmp_path: Path) -> None:
    """Routing without a check rule leaves the click index empty and says so."""
    _route_campaign(tmp_path / "s.db", PLAIN)
    assert _indexed(tmp_path / "s.db") == (0, 1)


def test_with_a_check_rule_every_click_is_indexed_and_no_gap_opens(tmp_path: Path) -> None:
    """A check rule from the start: every click indexed as it is routed, no gap."""
    _route_campaign(tmp_path / "s.db", CHECK)
    assert _indexed(tmp_path / "s.db") == (4, 0)


def test_a_check_rule_configured_later_sees_the_clicks_made_before(tmp_path: Path) -> None:
    """The gap is filled from the stored events (verdicts included, a click still settling
    settles in the index), so a did-not-click check added later leaves out who clicked."""
    _route_campaign(tmp_path / "s.db", PLAIN)
    h = Harness(tmp_path / "s.db", CHECK)
    _fill(h, T0 + HOUR)
    assert _indexed(tmp_path / "s.db") == (4, 0)
    h.run(T0 + 24 * HOUR + 0.5)
    sent = h.deliveries("crm")
    h.close()
    assert sorted(d["recipient"]["email"] for d in sent) == [
        "bob@example.org",
        "cat@example.org",
        "dan@example.org",
        "eve@example.org",
    ]
