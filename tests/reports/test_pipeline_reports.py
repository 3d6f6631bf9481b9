"""Clicks through the real processor on a real SQLite file fill the report aggregates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson

from connector.storage.base import EventRecord
from connector.storage.report_records import ReportTotals
from tests.scenarios.harness import Harness
from tests.scenarios.support import SCANNER_UA, T0, event

URL = "https://shop.example.org/pricing"


def totals(harness: Harness, subject: str, key: str) -> ReportTotals:
    found = harness.store.transaction_sync(lambda tx: tx.report_totals(subject, key))  # type: ignore[arg-type]
    assert found is not None
    return found


def test_processed_and_settled_clicks_make_the_reports(tmp_path: Path) -> None:
    """Totals, unique contacts, human vs a scanner, settled counts and contact rows add up."""
    harness = Harness(tmp_path / "r.db", [], settle_seconds=60)
    try:
        harness.ingest(
            event("email.delivered", "ann", T0),
            event("email.clicked", "ann", T0 + 30, url=URL),
            event("email.clicked", "ann", T0 + 90, url=URL, serial="2"),
            event("email.clicked", "bob", T0 + 40, url=URL, user_agent=SCANNER_UA),
            event("email.clicked", "cy", T0 + 50, url="https://shop.example.org/other"),
        )
        harness.run(T0 + 100)  # routed; none settled yet (the window is 60 s after T0 + 90)
        before = totals(harness, "link", URL)
        assert (before.clicks, before.contacts) == (3, 2)
        assert (before.human_immediate, before.suspected_immediate) == (2, 1)
        assert before.human_settled + before.suspected_settled < 3
        harness.run(T0 + 1000)  # every settling window has passed
        link = totals(harness, "link", URL)
        assert (link.human_settled, link.suspected_settled) == (2, 1)
        assert (link.first_at, link.last_at) == (T0 + 30, T0 + 90)
        campaign = totals(harness, "campaign", "spring")
        assert (campaign.clicks, campaign.contacts) == (4, 3)
        assert totals(harness, "message", "msg-ann").clicks == 2
        rows = harness.store.transaction_sync(lambda tx: tx.report_contacts("link", URL))
        assert [(r.recipient, r.clicks, r.human_clicks) for r in rows] == [
            ("ann@example.org", 2, 2),
            ("bob@example.org", 1, 0),
        ]
        timeline = harness.store.transaction_sync(
            lambda tx: tx.report_timeline("link", URL, T0, T0 + 3600)
        )
        assert [(b.start, b.clicks, b.human) for b in timeline] == [(T0, 3, 2)]
    finally:
        harness.close()


def test_a_trigger_link_click_is_reported_by_slug(tmp_path: Path) -> None:
    """A `link.clicked` (the trigger-link redirect's event) counts under `trigger` by slug."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "events" / "link.clicked.json"
    data = orjson.loads(path.read_bytes())
    at = datetime.fromisoformat(data["occurred_at"].replace("Z", "+00:00")).timestamp()
    record = EventRecord(
        data["id"], "link.clicked", "links", "trigger", at, at, orjson.dumps(data), b"{}"
    )
    harness = Harness(tmp_path / "t.db", [], settle_seconds=60)
    try:
        harness.ingest(record)
        harness.run(at + 1000)
        slug = totals(harness, "trigger", "spring")
        assert (slug.clicks, slug.contacts, slug.human_settled + slug.suspected_settled) == (
            1,
            1,
            1,
        )
        rows = harness.store.transaction_sync(lambda tx: tx.report_contacts("trigger", "spring"))
        assert [r.recipient for r in rows] == ["id:u_4821"]
        none = harness.store.transaction_sync(lambda tx: tx.report_subjects("link"))
        assert none == []  # reported by slug, not by destination URL
    finally:
        harness.close()
