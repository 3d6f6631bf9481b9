"""Every signal on its own, through the detector the service uses."""

from __future__ import annotations

import pytest

from connector.bots.reasons import REASONS
from tests.bots.helpers import (
    CDN,
    CLOUD,
    CRAWLER,
    SERVICE,
    VENDOR,
    Replay,
    clicked,
    codes,
    delivered,
    detector,
)

LATE = 3600.0  # an hour after delivery: no timing evidence


def _alone(**kwargs: object) -> set[str]:
    click = clicked(LATE, **kwargs)  # type: ignore[arg-type]
    replay = Replay(detector()).feed(delivered(), click)
    return codes(replay.settled(click))


def test_plain_human_click_has_no_reasons() -> None:
    """A residential browser click an hour after delivery carries no evidence at all."""
    click = clicked(LATE)
    replay = Replay(detector()).feed(delivered(), click)
    verdict = replay.settled(click)
    assert (verdict.score, verdict.band, verdict.suspected, verdict.reasons) == (
        0,
        "human",
        False,
        [],
    )


@pytest.mark.parametrize(
    ("ip", "code"),
    [(VENDOR, "ip.vendor"), (CRAWLER, "ip.crawler"), (SERVICE, "ip.service"),
     (CLOUD, "ip.cloud"), (CDN, "ip.cdn")],
)  # fmt: skip
def test_ip_categories(ip: str, code: str) -> None:
    """Each IP category yields its own reason code."""
    assert _alone(ip=ip) == {code}


def test_unparseable_or_missing_ip_is_no_evidence() -> None:
    """A missing or malformed client IP adds nothing and does not fail."""
    assert _alone(ip=None) == set()
    assert _alone(ip="not-an-ip") == set()


def test_user_agent_reason_reaches_the_verdict() -> None:
    """A declared bot agent alone is enough to be suspected."""
    click = clicked(LATE, agent="python-requests/2.32.3")
    verdict = Replay(detector()).feed(delivered(), click).settled(click)
    assert codes(verdict) == {"ua.scanner"}
    assert verdict.suspected and verdict.band == "certain"


@pytest.mark.parametrize(
    ("after", "code"),
    [(0.5, "timing.under_2s"), (5, "timing.under_10s"), (20, "timing.under_30s"),
     (45, "timing.under_60s"), (61, None), (-0.5, "timing.under_2s"),
     (-5, "timing.before_delivery")],
)  # fmt: skip
def test_timing_buckets(after: float, code: str | None) -> None:
    """Seconds from delivery map to the published buckets; clicks before delivery say so."""
    click = clicked(after)
    found = codes(Replay(detector()).feed(delivered(), click).settled(click))
    assert found == ({code} if code else set())


def test_no_delivery_means_no_timing() -> None:
    """Without a delivered event there is no timing evidence."""
    click = clicked(1)
    assert codes(Replay(detector()).feed(click).settled(click)) == set()


@pytest.mark.parametrize(
    ("step", "burst"),
    [
        (0.7, True),  # 3 distinct links within 2 s
        (1.5, True),  # the first is 3 s from the last, but every step is a burst's
        (2.5, False),  # steps longer than the burst window
    ],
)
def test_three_links_at_a_burst_pace(step: float, burst: bool) -> None:
    """3 distinct links of one message from one network, each within 2 s of the next, is a
    burst for each of them."""
    clicks = [clicked(LATE + step * n, link=n) for n in range(3)]
    replay = Replay(detector()).feed(delivered(), *clicks)
    assert ("burst.links" in codes(replay.settled(clicks[0]))) is burst


def test_sub_100ms_gap_is_inhuman() -> None:
    """Two distinct links 50 ms apart is faster than a hand moves."""
    a, b = clicked(LATE, link=0), clicked(LATE + 0.05, link=1)
    replay = Replay(detector()).feed(delivered(), a, b)
    assert codes(replay.settled(a)) == {"burst.inhuman_gap"}


def test_two_links_in_one_second() -> None:
    """Two distinct links within a second is Marketo's proximity pattern (weak)."""
    a, b = clicked(LATE, link=0), clicked(LATE + 0.6, link=1)
    verdict = Replay(detector()).feed(delivered(), a, b).settled(a)
    assert codes(verdict) == {"burst.same_second"}
    assert not verdict.suspected


@pytest.mark.parametrize(("step", "found"), [(4.0, {"behaviour.all_links"}), (10.0, set())])
def test_every_link_of_the_message(step: float, found: set[str]) -> None:
    """Every link of a 3+ link message walked at a page load's pace (steps of up to 6 s) is
    reported; a reader's clicks standing apart are not one walk."""
    clicks = [clicked(LATE + step * n, link=n, link_count=3) for n in range(3)]
    verdict = Replay(detector()).feed(delivered(), *clicks).settled(clicks[-1])
    assert codes(verdict) == found


def test_burst_soon_after_delivery() -> None:
    """A multi-link visit within two minutes of delivery adds the at-delivery reason."""
    clicks = [clicked(100 + 0.5 * n, link=n) for n in range(3)]
    verdict = Replay(detector()).feed(delivered(), *clicks).settled(clicks[0])
    assert codes(verdict) == {"burst.links", "behaviour.at_delivery"}


def test_fanout_one_ip_many_recipients() -> None:
    """One address clicking for 5 recipients within two minutes is reported."""
    clicks = [
        clicked(LATE + 10 * n, message=f"m{n}", recipient=f"p{n}@firm.example") for n in range(5)
    ]
    verdict = Replay(detector()).feed(*clicks).settled(clicks[-1])
    assert codes(verdict) == {"ip.fanout"}


def test_hidden_link_and_honeypot_pattern() -> None:
    """A hidden link, or a URL matching a configured pattern, is a honeypot hit."""
    assert _alone(hidden=True) == {"link.honeypot"}
    click = clicked(LATE, url="https://sender.example/trap/123")
    found = Replay(detector(honeypot_patterns=[r"/trap/"])).feed(click).settled(click)
    assert codes(found) == {"link.honeypot"}
    assert found.suspected


@pytest.mark.parametrize(("method", "code"), [("HEAD", "http.head"), ("options", "http.method")])
def test_http_method(method: str, code: str) -> None:
    """HEAD and other non-navigation methods are evidence; GET is not."""
    assert _alone(method=method) == {code}
    assert _alone(method="GET") == set()


@pytest.mark.parametrize(
    ("hint", "flagged"),
    [(True, True), ("robot", True), ("Bot", True), (1, True), ("prefetch", True),
     (False, False), (None, False), ("browser", False), ("human", False), (0, False)],
)  # fmt: skip
def test_esp_bot_hint(hint: object, flagged: bool) -> None:
    """metadata['esp_bot_hint'] marks automation when truthy or a bot word, else nothing."""
    found = _alone(metadata={"esp_bot_hint": hint})
    assert found == ({"esp.bot_hint"} if flagged else set())


def test_pair_scanner_check_goes_to_the_stronger_side() -> None:
    """Same link from a vendor network and a home network: the vendor side is the check."""
    person = clicked(LATE)
    check = clicked(LATE + 8, ip=VENDOR)
    replay = Replay(detector()).feed(delivered(), person, check)
    assert codes(replay.settled(check)) == {"ip.vendor", "pair.scanner_check"}
    assert replay.settled(check).suspected
    assert codes(replay.settled(person)) == {"guard.paired_human"}
    assert replay.settled(person).score == 0


def test_every_reason_code_is_documented_with_points() -> None:
    """Every reason code the detector knows has points and a why."""
    assert all(spec.why and isinstance(spec.points, int) for spec in REASONS.values())
