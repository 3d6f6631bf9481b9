"""Checks at a time: did not click, clicked by, per delivery; people only; exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenarios.harness import Harness
from tests.scenarios.support import SCANNER_UA, T0, event

HOUR = 3600.0
PRICING = "https://shop.example.org/pricing"


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


@pytest.fixture
def five_recipients() -> list[str]:
    return ["ann", "bob", "cat", "dan", "eve"]


def _campaign(h: Harness, people: list[str]) -> None:
    """5 delivered; ann and bob click pricing (with tracking), cat another page, dan only
    a scanner's HEAD-less fetch with a library agent."""
    h.ingest(*[event("email.delivered", p, T0) for p in people])
    h.ingest(
        event("email.clicked", "ann", T0 + 600, url=PRICING + "?utm_source=cio"),
        event("email.clicked", "bob", T0 + 900, url="HTTPS://Shop.example.org/pricing/"),
        event("email.clicked", "cat", T0 + 700, url="https://shop.example.org/blog"),
        event("email.clicked", "dan", T0 + 2, url=PRICING, user_agent=SCANNER_UA),
    )


@pytest.fixture
def not_clicked(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(
        tmp_path / "s.db",
        [
            {
                "id": "nudge",
                "trigger": "not_clicked",
                "links": [PRICING],
                "at": _iso(T0 + 24 * HOUR),
                "send": {"campaign_id": "spring"},
                "actions": ["crm"],
            }
        ],
    )
    yield h
    h.close()


def test_did_not_click_at_t_counts_people_on_selected_links(
    not_clicked: Harness, five_recipients: list[str]
) -> None:
    """5 delivered, 2 click the selected link, 1 another, 1 only a scanner: 3 not_clicked."""
    _campaign(not_clicked, five_recipients)
    not_clicked.run(T0 + HOUR)
    assert not_clicked.deliveries() == []  # not before T
    not_clicked.run(T0 + 24 * HOUR + 0.5)
    sent = not_clicked.deliveries("crm")
    assert sorted(d["recipient"]["email"] for d in sent) == [
        "cat@example.org",
        "dan@example.org",
        "eve@example.org",
    ]
    assert {d["type"] for d in sent} == {"email.not_clicked"}
    assert {d["scenario"]["rule"] for d in sent} == {"nudge"}
    assert sent[0]["scenario"]["send"] == {"message_id": None, "campaign_id": "spring"}
    not_clicked.run(T0 + 48 * HOUR)  # fires once; a late click changes nothing
    not_clicked.ingest(event("email.clicked", "eve", T0 + 30 * HOUR, url=PRICING))
    not_clicked.run(T0 + 49 * HOUR)
    assert len(not_clicked.deliveries("crm")) == 3


def test_real_time_rules_never_see_scheduled_events(tmp_path: Path) -> None:
    """A catch-all real-time rule is not handed the not_clicked events a check emits."""
    h = Harness(
        tmp_path / "s.db",
        [
            {"id": "all", "event": ["email.clicked", "email.not_clicked"], "actions": ["log"]},
            {
                "id": "nudge",
                "trigger": "not_clicked",
                "at": _iso(T0 + HOUR),
                "send": {"campaign_id": "spring"},
                "actions": ["crm"],
            },
        ],
    )
    h.ingest(event("email.delivered", "ann", T0))
    h.run(T0 + HOUR + 1)
    assert [d["action"] for d in h.deliveries()] == ["crm"]
    h.close()


def test_a_check_waits_for_settled_verdicts_of_clicks_before_it(tmp_path: Path) -> None:
    """A click just before T is counted on its settled verdict, so the check waits for it."""
    h = Harness(
        tmp_path / "s.db",
        [
            {
                "id": "nudge",
                "trigger": "not_clicked",
                "at": _iso(T0 + HOUR),
                "send": {"campaign_id": "spring"},
                "actions": ["crm"],
            }
        ],
        settle_seconds=60,
    )
    h.ingest(event("email.delivered", "ann", T0), event("email.delivered", "bob", T0))
    h.ingest(event("email.clicked", "ann", T0 + HOUR - 5))
    h.run(T0 + HOUR + 1)
    assert h.deliveries() == []  # ann's click settles at about T0 + HOUR + 56
    h.run(T0 + HOUR + 120)
    assert [d["recipient"]["email"] for d in h.deliveries()] == ["bob@example.org"]
    h.close()


def test_clicked_by_emits_one_event_per_clicker_before_t(
    tmp_path: Path, five_recipients: list[str]
) -> None:
    """At T: one copy of each person's first click on the selected link, once each."""
    h = Harness(
        tmp_path / "s.db",
        [
            {
                "id": "pricing-by-monday",
                "trigger": "clicked_by",
                "links": [PRICING],
                "at": _iso(T0 + 24 * HOUR),
                "send": {"campaign_id": "spring"},
                "actions": ["crm"],
            }
        ],
    )
    _campaign(h, five_recipients)
    h.ingest(event("email.clicked", "ann", T0 + 800, url=PRICING, serial="again"))
    h.run(T0 + 24 * HOUR)
    sent = h.deliveries("crm")
    assert sorted(d["recipient"]["email"] for d in sent) == ["ann@example.org", "bob@example.org"]
    ann = next(d for d in sent if d["recipient"]["email"] == "ann@example.org")
    assert ann["occurred_at"] == _iso(T0 + 600).replace("+00:00", "Z")  # the first click
    assert ann["scenario"]["trigger"] == "clicked_by"
    assert ann["bot"]["phase"] == "settled"


def test_not_clicked_after_each_delivery(tmp_path: Path) -> None:
    """`after` starts one check per delivery; a person who clicked in time is skipped."""
    h = Harness(
        tmp_path / "s.db",
        [{"id": "48h", "trigger": "not_clicked", "after": "48h", "actions": ["crm"]}],
    )
    h.ingest(event("email.delivered", "ann", T0), event("email.delivered", "bob", T0 + HOUR))
    h.ingest(event("email.delivered", "ann", T0, serial="reported twice"))
    h.ingest(event("email.clicked", "ann", T0 + 10 * HOUR))
    h.run(T0 + 48 * HOUR + 1)
    assert h.deliveries() == []  # bob's is due an hour later
    h.run(T0 + 49 * HOUR + 1)
    sent = h.deliveries("crm")
    assert [d["recipient"]["email"] for d in sent] == ["bob@example.org"]
    assert sent[0]["scenario"]["started_at"] == _iso(T0 + HOUR).replace("+00:00", "Z")
    h.close()


def test_a_failing_timer_is_marked_failed_and_others_still_fire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A timer whose firing raises is set aside as failed; the next one fires as usual."""
    from connector.scenarios import firing

    h = Harness(
        tmp_path / "s.db",
        [{"id": "48h", "trigger": "not_clicked", "after": "1h", "actions": ["crm"]}],
    )
    h.ingest(event("email.delivered", "ann", T0), event("email.delivered", "bob", T0 + 1))
    real = firing.scheduled_event

    def poisoned(kind, timer, recipient, who, now):  # type: ignore[no-untyped-def]
        if recipient.startswith("ann"):
            raise RuntimeError("poison")
        return real(kind, timer, recipient, who, now)

    monkeypatch.setattr(firing, "scheduled_event", poisoned)
    h.run(T0 + 2 * HOUR)
    assert [d["recipient"]["email"] for d in h.deliveries()] == ["bob@example.org"]
    statuses = h.store.transaction_sync(lambda tx: sorted(t.status for t in tx.timers()))
    assert statuses == ["done", "failed"]
    h.close()
