"""The hard human groups stay unflagged, alone and in pairs of groups (bench/bots/README.md)."""

from __future__ import annotations

import pytest

from schemas.events import Bot, EmailClicked, EmailDelivered
from tests.bots.helpers import (
    CLOUD,
    CLOUD_2,
    RESIDENTIAL,
    RESIDENTIAL_2,
    SAFARI_IPHONE,
    VENDOR,
    Replay,
    clicked,
    codes,
    delivered,
    detector,
)

LATE = 1800.0


def _verdicts(*clicks: EmailClicked, deliver: bool = True) -> list[Bot]:
    events: list[EmailClicked | EmailDelivered] = [delivered()] if deliver else []
    replay = Replay(detector()).feed(*events, *clicks)
    return [replay.settled(click) for click in clicks]


def _none_suspected(*clicks: EmailClicked, deliver: bool = True) -> bool:
    return not any(v.suspected for v in _verdicts(*clicks, deliver=deliver))


def test_cloud_desktop_user() -> None:
    """Azure Virtual Desktop / WorkSpaces: cloud address, modern browser, ordinary timing."""
    assert _none_suspected(clicked(LATE, ip=CLOUD), clicked(LATE + 300, link=1, ip=CLOUD))


def test_cloud_desktop_fast_reader() -> None:
    """A cloud-desktop user who clicks 8 s after delivery: two weak signals, not flagged."""
    (verdict,) = _verdicts(clicked(8, ip=CLOUD))
    assert codes(verdict) == {"ip.cloud", "timing.under_10s"}
    assert not verdict.suspected


def test_cloud_desktop_opening_several_tabs() -> None:
    """A cloud-desktop user ctrl-clicking three links 0.7 s apart is not flagged."""
    assert _none_suspected(*(clicked(LATE + 0.7 * n, link=n, ip=CLOUD) for n in range(3)))


def test_corporate_proxy_many_colleagues() -> None:
    """Six colleagues behind one Zscaler/NAT address, clicking over 30 minutes."""
    clicks = [
        clicked(LATE + 360 * n, message=f"m{n}", recipient=f"p{n}@firm.example", ip=RESIDENTIAL)
        for n in range(6)
    ]
    assert _none_suspected(*clicks, deliver=False)


def test_corporate_proxy_rush_is_only_weak() -> None:
    """Five colleagues through one proxy within two minutes: fan-out alone is not enough."""
    clicks = [
        clicked(LATE + 20 * n, message=f"m{n}", recipient=f"p{n}@firm.example") for n in range(5)
    ]
    verdicts = _verdicts(*clicks, deliver=False)
    assert "ip.fanout" in codes(verdicts[-1])
    assert not any(v.suspected for v in verdicts)


def test_vpn_on_hosting_space() -> None:
    """A VPN user whose exit is a hosting address, reading later."""
    assert _none_suspected(clicked(LATE, ip=CLOUD_2, agent=SAFARI_IPHONE))


def test_fast_reader() -> None:
    """Someone watching the inbox clicks 4 s after delivery."""
    assert _none_suspected(clicked(4))


def test_several_tabs_at_human_pace() -> None:
    """Four links ctrl-clicked 0.5 s apart from one home network."""
    assert _none_suspected(*(clicked(LATE + 0.5 * n, link=n) for n in range(4)))


def test_every_link_of_a_short_mail_over_a_minute() -> None:
    """A reader who opens all three links of a short mail within a minute."""
    assert _none_suspected(*(clicked(LATE + 20 * n, link=n, link_count=3) for n in range(3)))


def test_double_click_same_network_and_dual_stack() -> None:
    """A double click (same link, 0.2 s), also when the second request uses IPv6."""
    assert _none_suspected(clicked(LATE), clicked(LATE + 0.2))
    assert _none_suspected(clicked(LATE), clicked(LATE + 0.2, ip="2001:db8:1::5"))


def test_person_behind_a_click_time_gateway() -> None:
    """The person's click next to a Safe Links/Mimecast check is guarded, the check flagged."""
    person, check = clicked(LATE), clicked(LATE - 1.5, ip=VENDOR)
    person_verdict, check_verdict = _verdicts(person, check)
    assert not person_verdict.suspected
    assert check_verdict.suspected


def test_fast_reader_behind_a_gateway() -> None:
    """A fast reader whose click the gateway checks is protected by the pairing guard."""
    person, check = clicked(6), clicked(9, ip=VENDOR)
    person_verdict, _ = _verdicts(person, check)
    assert "guard.paired_human" in codes(person_verdict)
    assert not person_verdict.suspected


def test_cloud_desktop_user_after_an_unlisted_gateway_check() -> None:
    """A cloud-desktop user following a check from an unlisted network is not blamed."""
    check, person = clicked(LATE, ip=RESIDENTIAL), clicked(LATE + 1.5, ip=CLOUD)
    _, person_verdict = _verdicts(check, person)
    assert codes(person_verdict) == {"ip.cloud"}


def test_reader_after_a_sweep_without_addresses() -> None:
    """Customer.io carries no address: a fast reader's click 20 s after a gateway swept
    other links of the message is no part of that walk, so it is not flagged with it."""
    sweep = [clicked(5 + 0.8 * n, link=n, ip=None, agent=None, link_count=6) for n in range(4)]
    reader = clicked(40, link=5, ip=None, agent=None, link_count=6)
    *_, verdict = _verdicts(*sweep, reader)
    assert not verdict.suspected
    assert not codes(verdict) & {"behaviour.all_links", "behaviour.many_links"}


def test_cloud_desktop_opening_four_tabs_slowly() -> None:
    """A cloud-desktop user opening four links 3-5 s apart (a walk, not a burst): many links
    and a cloud address are two weak signals."""
    times = (LATE, LATE + 3, LATE + 8, LATE + 11)
    assert _none_suspected(*(clicked(t, link=n, ip=CLOUD) for n, t in enumerate(times)))


def test_cloud_desktop_user_in_the_same_whole_second_as_a_check() -> None:
    """Whole-second times (SendGrid) equal for a check and the person: which came first is
    unknown, so the cloud-desktop side is not taken for the check."""
    check, person = clicked(LATE, ip=RESIDENTIAL), clicked(LATE, ip=CLOUD)
    _, person_verdict = _verdicts(check, person)
    assert codes(person_verdict) == {"ip.cloud"}


def test_cloud_desktop_reader_after_a_rotating_sweep() -> None:
    """A cloud-desktop user clicks a link 10 s after a scanner behind rotating residential
    exits fetched it: that fetch is no person the reader's click could be a check of."""
    sweep = [clicked(LATE + 1.5 * n, link=n, ip=f"198.51.{n}.20") for n in range(4)]
    reader = clicked(LATE + 10, link=0, ip=CLOUD)
    *_, verdict = _verdicts(*sweep, reader)
    assert "pair.scanner_check" not in codes(verdict)
    assert not verdict.suspected


def test_reader_before_a_rotating_sweep_is_no_check() -> None:
    """A reader's click seconds before a rotating-exit scanner fetched the same link is not
    a click-time check followed by its person: the later fetch is a step of a sweep."""
    reader = clicked(LATE - 3, link=0, ip=RESIDENTIAL)
    sweep = [clicked(LATE + 1.5 * n, link=n, ip=f"198.51.{n}.20") for n in range(4)]
    verdict, *_ = _verdicts(reader, *sweep)
    assert not codes(verdict) & {"pair.check_first", "pair.earlier_check"}
    assert not verdict.suspected


@pytest.mark.parametrize("reader_at", [-1.0, 9.0])  # before the sweep's fetch; 7.5 s after
def test_cloud_desktop_reader_beside_a_hidden_link_sweep(reader_at: float) -> None:
    """A fast reader on a cloud desktop clicks a link a scanner's sweep (no evidence of its
    own) also fetched seconds apart; the sweep reached the hidden link, so its fetch is no
    person the reader's click could be the check of (mix B's fast readers, session 9)."""
    sweep = [clicked(LATE + 1.5 * n, link=n, ip=RESIDENTIAL_2) for n in range(4)]
    honeypot = clicked(LATE + 6, link=4, ip=RESIDENTIAL_2, hidden=True)
    reader = clicked(LATE + reader_at, link=1, ip=CLOUD)
    *_, verdict = _verdicts(*sweep, honeypot, reader)
    assert codes(verdict) == {"ip.cloud"}
