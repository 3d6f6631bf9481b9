"""The signals added for scanners that look like browsers (issue 15), each on its own."""

from __future__ import annotations

from typing import Any

import pytest

from connector.bots.checkers import CheckerIndex, organisation
from connector.bots.ipranges import load_index
from connector.bots.useragents import classify
from schemas.events import PURPOSE_KEY
from tests.bots.helpers import (
    CHROME,
    CLOUD,
    RESIDENTIAL,
    RESIDENTIAL_2,
    VENDOR,
    Replay,
    clicked,
    codes,
    delivered,
    detector,
)

LATE = 3600.0  # an hour after delivery: no timing evidence
V6_HOME = "2001:db8:1::7"


@pytest.mark.parametrize(
    ("first_at", "then_at", "first_ip", "code", "suspected"),
    [
        (0.0, 2.0, RESIDENTIAL_2, "pair.check_first", True),  # whole seconds, 2 s apart
        (0.25, 0.75, RESIDENTIAL_2, "pair.check_first", True),  # 0.5 s, sub-second times
        (0.25, 0.35, RESIDENTIAL_2, "pair.earlier_check", False),  # a double click's pace
        (0.0, 1.0, RESIDENTIAL_2, "pair.check_first", True),  # whole seconds keep the order
        (0.0, 0.0, RESIDENTIAL_2, None, False),  # the same whole second: which came first?
        (0.0, 20.0, RESIDENTIAL_2, None, False),  # longer than a redirect: no check at all
        (0.0, 2.0, V6_HOME, "pair.earlier_check", False),  # dual stack switching family
    ],
)
def test_unlisted_check_before_the_person(
    first_at: float, then_at: float, first_ip: str, code: str | None, suspected: bool
) -> None:
    """A plain fetch of a link, then a plain click on it from another network seconds
    later, is a click-time check; not at a double click's pace or across IP families, and
    not when the second came later than a redirect takes."""
    check = clicked(LATE + first_at, ip=first_ip)
    person = clicked(LATE + then_at, ip=RESIDENTIAL)
    replay = Replay(detector()).feed(delivered(), check, person)
    assert codes(replay.settled(check)) == ({code} if code else set())
    assert replay.settled(check).suspected is suspected
    assert not replay.settled(person).suspected


OFFICE = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"


def test_check_before_an_outlook_user_with_office_prefetch() -> None:
    """Office fetches the link from the person's own address just before the person's
    browser: that prefetch's declared agent makes no scanner network of the person's, so
    the unlisted check that came first is still a check, not the person."""
    check = clicked(LATE, ip=RESIDENTIAL_2)
    prefetch = clicked(LATE + 1.6, ip=RESIDENTIAL, agent=OFFICE)
    person = clicked(LATE + 2.0, ip=RESIDENTIAL)
    replay = Replay(detector()).feed(delivered(), check, prefetch, person)
    assert codes(replay.settled(check)) == {"pair.check_first"}
    assert not replay.settled(person).suspected


def test_each_click_of_a_double_click_checked() -> None:
    """A double click makes two checks from the gateway's pool: the second check has the
    first as a plain partner too, but the person it precedes is the first click after it."""
    first, second = clicked(LATE, ip="198.51.100.20"), clicked(LATE + 1.1, ip="198.51.99.20")
    person = [clicked(LATE + 1.7, ip=RESIDENTIAL), clicked(LATE + 2.1, ip=RESIDENTIAL)]
    replay = Replay(detector()).feed(delivered(), first, second, *person)
    assert codes(replay.settled(first)) == {"pair.check_first"}
    assert codes(replay.settled(second)) == {"pair.check_first"}
    assert not any(replay.settled(click).suspected for click in person)


def test_person_beside_a_vendor_check_stays_guarded() -> None:
    """A plain click, a vendor's check and another plain click on the link from a third
    network: the vendor is the check, so the first plain click is guarded as the person."""
    person = clicked(LATE, ip=RESIDENTIAL)
    check = clicked(LATE + 0.5, ip=VENDOR)
    other = clicked(LATE + 1.4, ip=RESIDENTIAL_2)
    replay = Replay(detector()).feed(delivered(), person, check, other)
    assert codes(replay.settled(person)) == {"guard.paired_human"}
    assert not replay.settled(person).suspected


PROXY = "198.18.0.77"  # a hosted click-time proxy's egress, in no list


def _checked_pair(replay: Replay, message: str, recipient: str, person_ip: str, at: float) -> Any:
    """The proxy checks a link, then the recipient arrives from `person_ip` 1.5 s later."""
    check = clicked(at, message=message, recipient=recipient, ip=PROXY)
    person = clicked(at + 1.5, message=message, recipient=recipient, ip=person_ip)
    replay.feed(delivered(message), check, person)
    return check


@pytest.mark.parametrize(
    ("earlier_recipient", "code"),
    [
        ("bob@other.example", "pair.known_checker"),  # it checked for another firm
        ("cy@firm.example", "guard.paired_human"),  # only for this firm: could be its office
        (None, "guard.paired_human"),  # nothing known about the address
    ],
)
def test_known_checker_before_a_cloud_desktop_user(
    earlier_recipient: str | None, code: str
) -> None:
    """A plain fetch, then a cloud-desktop user on the link: which is the check is not sure
    (a person at home followed by a Safe Links check from Azure looks the same), unless the
    fetch's address was the check of a sure pair for another organisation."""
    replay = Replay(detector())
    if earlier_recipient:
        earlier = _checked_pair(replay, "m0", earlier_recipient, RESIDENTIAL, LATE)
        assert codes(replay.settled(earlier)) == {"pair.check_first"}
    check = _checked_pair(replay, "m1", "ann@firm.example", CLOUD, 86400.0)
    assert codes(replay.settled(check)) == {code}
    assert replay.settled(check).suspected is (code == "pair.known_checker")


def test_known_checker_in_the_same_whole_second() -> None:
    """Whole-second times equal for the check and the person say nothing of the order; a
    known checker's fetch is still the check, and the person stays unflagged."""
    replay = Replay(detector())
    earlier = _checked_pair(replay, "m0", "bob@other.example", RESIDENTIAL, LATE)
    assert codes(replay.settled(earlier)) == {"pair.check_first"}  # settled before these
    check = clicked(86400.0, recipient="ann@firm.example", ip=PROXY)
    person = clicked(86400.0, recipient="ann@firm.example", ip=RESIDENTIAL_2)
    replay.feed(delivered(), check, person)
    assert codes(replay.settled(check)) == {"pair.known_checker"}
    assert not replay.settled(person).suspected


def test_checker_index_bounds() -> None:
    """Notes older than the horizon do not count; the oldest addresses are forgotten."""
    index = CheckerIndex(horizon=100.0, max_addresses=2)
    index.note("a", "x.example", 10.0)
    assert index.for_others("a", "y.example", 50.0, 60.0)
    assert not index.for_others("a", "x.example", 50.0, 60.0)  # only its own firm
    assert not index.for_others("a", "y.example", 50.0, 5.0)  # not known by then
    assert not index.for_others("a", "y.example", 200.0, 300.0)  # past the horizon
    index.note("b", "x.example", 20.0)
    index.note("c", "x.example", 30.0)
    assert not index.for_others("a", "y.example", 50.0, 60.0)
    assert organisation("ann@firm.example") == "firm.example"
    assert organisation("anonymous") == ""


@pytest.mark.parametrize(
    ("addresses", "flagged"),
    [
        (["203.0.113.1", "198.51.100.1", "192.0.2.77"], True),  # three networks
        (["203.0.113.1", "198.51.100.1", "198.51.100.9"], False),  # two /24s only
        (["203.0.113.1"] * 3, False),  # one person's tabs
    ],
)
def test_links_swept_from_rotating_networks(addresses: list[str], flagged: bool) -> None:
    """Distinct links of one message from 3+ networks within seconds is a rotating proxy."""
    clicks = [clicked(LATE + 1.5 * n, link=n, ip=ip) for n, ip in enumerate(addresses)]
    replay = Replay(detector()).feed(delivered(), *clicks)
    found = {code for click in clicks for code in codes(replay.settled(click))}
    assert ("burst.networks" in found) is flagged


def test_person_with_checks_is_no_rotating_sweep() -> None:
    """A person's tabs each checked by a gateway: links clicked twice are no sweep."""
    person = [clicked(LATE + 1.5 * n, link=n) for n in range(3)]
    checks = [clicked(LATE + 1.5 * n - 0.8, link=n, ip=f"198.51.{n}.5") for n in range(3)]
    replay = Replay(detector()).feed(delivered(), *person, *checks)
    assert all("burst.networks" not in codes(replay.settled(c)) for c in person + checks)


@pytest.mark.parametrize(
    ("offsets", "inhuman"),
    [((0.0, 0.05), True), ((0.0, 0.0), False), ((0.3, 0.3), True)],
)
def test_sub_100ms_needs_sub_second_times(offsets: tuple[float, float], inhuman: bool) -> None:
    """Two whole-second times 0 ms apart say "same second", not "faster than a hand"."""
    a, b = (clicked(LATE + offset, link=n) for n, offset in enumerate(offsets))
    found = codes(Replay(detector()).feed(delivered(), a, b).settled(a))
    assert ("burst.inhuman_gap" in found) is inhuman


@pytest.mark.parametrize(
    ("agent", "code"),
    [
        ("-", "ua.empty"),
        ("Mozilla/5.0", "ua.empty"),
        (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "ua.impossible",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "ua.impossible",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/109.0.0.0 Safari/537.36",
            None,
        ),
    ],
)
def test_agents_no_browser_sends(agent: str, code: str | None) -> None:
    """Placeholders count as no agent; a browser too new for Windows 7-8.1 is made up; the
    last version those systems run is a person stuck on them."""
    found = {hit[0] for hit in classify(agent, 152)}
    assert found == ({code} if code else set())


def test_missing_agent_is_no_evidence() -> None:
    """An ESP that sends no agent field (Customer.io) gives no agent evidence."""
    assert classify(None, 152) == ()


def test_without_addresses_a_check_pair_does_not_make_a_burst() -> None:
    """With no IPs, a person's click and its check (same link) do not join another link's
    click into a burst: only links clicked once are burst evidence."""
    bare = {"ip": None, "agent": None}
    clicks = [
        clicked(LATE, link=0, **bare),
        clicked(LATE + 0.05, link=1, **bare),
        clicked(LATE + 0.6, link=1, **bare),
    ]
    replay = Replay(detector()).feed(delivered(), *clicks)
    assert codes(replay.settled(clicks[0])) == set()


def test_google_service_space_is_shipped() -> None:
    """Gmail's fetchers' Google-owned space is in the shipped data, as a provider service."""
    label = load_index(None, use_cloudip=False).lookup("66.102.8.1")
    assert label is not None and (label.category, label.provider) == ("service", "google")


@pytest.mark.parametrize(
    ("gaps", "link_count", "code"),
    [
        ((4.0, 5.0, 3.0), None, "behaviour.many_links"),  # four links at a page load's pace
        ((4.0, 5.0, 3.0), 8, "behaviour.many_links"),  # half of a long message
        ((4.0, 5.0, 3.0), 4, "behaviour.all_links"),  # every link of a short one
        ((4.0, 5.0), None, None),  # three links: a reader's share
        ((4.0, 5.0, 20.0), None, None),  # the fourth stands apart: a reader after a sweep
    ],
)
def test_many_links_without_a_burst(
    gaps: tuple[float, ...], link_count: int | None, code: str | None
) -> None:
    """Four or more distinct links in one walk (steps of up to 6 s), too slow for a burst."""
    times = [LATE]
    for gap in gaps:
        times.append(times[-1] + gap)
    clicks = [clicked(t, link=n, link_count=link_count) for n, t in enumerate(times)]
    found = codes(Replay(detector()).feed(delivered(), *clicks).settled(clicks[-1]))
    assert found == ({code} if code else set())


@pytest.mark.parametrize(
    ("after", "code"),
    [(12.0, "pair.scanner_check"), (2.0, None)],
)
def test_cloud_fetch_after_the_person(after: float, code: str | None) -> None:
    """A cloud-address fetch of the link 12 s after a plain click is a scan that followed
    the person (Safe Links); 2 s after, it may be a cloud-desktop person redirected after
    an unlisted gateway's check, so it earns nothing."""
    person = clicked(LATE)
    fetch = clicked(LATE + after, ip=CLOUD)
    found = codes(Replay(detector()).feed(delivered(), person, fetch).settled(fetch))
    assert found == {"ip.cloud", *((code,) if code else ())}


@pytest.mark.parametrize(
    ("gaps", "ip", "proven"),
    [
        ((0.6, 0.9, 1.2), None, [True, True, True]),  # no address: the Customer.io case
        ((0.6, 0.9, 1.2), RESIDENTIAL, [True, True, True]),
        ((0.6, 3.0, 1.2), None, [True, True, True]),  # a page load's pace
        ((0.6, 8.0, 1.2), None, [False, False, True]),  # a pause longer than a sweep's step
    ],
)
def test_sweep_through_the_hidden_link(
    gaps: tuple[float, ...], ip: str | None, proven: list[bool]
) -> None:
    """Links clicked at a sweep's pace together with the hidden one: the client that
    followed an invisible link clicked the others too, agent or address or not."""
    at, visible = LATE, []
    for n, gap in enumerate(gaps):
        visible.append(clicked(at, link=n, ip=ip, agent=None))
        at += gap
    hidden = clicked(at, link=len(gaps), ip=ip, agent=None, hidden=True)
    replay = Replay(detector()).feed(delivered(), *visible, hidden)
    found = ["burst.proven" in codes(replay.settled(click)) for click in visible]
    assert found == proven
    assert [replay.settled(click).suspected for click in visible] == proven


def test_person_beside_a_prefetch_inherits_nothing() -> None:
    """A prefetch (proof) of each link just before the person opens it: the links are
    clicked twice, so the person's clicks are no part of the prefetcher's sweep."""
    office = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"
    prefetches = [clicked(LATE + 1.2 * n - 0.3, link=n, agent=office) for n in range(3)]
    person = [clicked(LATE + 1.2 * n, link=n) for n in range(3)]
    replay = Replay(detector()).feed(delivered(), *prefetches, *person)
    assert all(not replay.settled(click).suspected for click in person)
    assert all("burst.proven" not in codes(replay.settled(click)) for click in person)


@pytest.mark.parametrize(
    ("variant", "more"),
    [
        ("https://sender.example/l0?utm_source=em17ail", True),  # a URL not in the message
        (None, False),  # every link of the message, once each: "all links", not more
    ],
)
def test_more_distinct_links_than_the_message_holds(variant: str | None, more: bool) -> None:
    """A person can only follow the message's links: more distinct links than it holds means
    some were rewritten by the client (Proofpoint's scrambled variants)."""
    clicks = [clicked(LATE + 5.0 * n, link=n, link_count=3, ip=None, agent=None) for n in range(3)]
    if variant:
        clicks.append(clicked(LATE + 16.0, link=None, url=variant, link_count=3, ip=None))
    replay = Replay(detector()).feed(delivered(), *clicks)
    found = ["behaviour.more_links" in codes(replay.settled(click)) for click in clicks]
    assert found == [more] * len(clicks)


def test_browser_prefetch_lends_nothing_to_the_navigation() -> None:
    """A browser prefetching the links a person hovers (Purpose: prefetch) is that person's
    own browser: the navigation that follows is no part of a sweep."""
    prefetches = [
        clicked(LATE + 0.8 * n, link=n, metadata={PURPOSE_KEY: "prefetch"}) for n in (1, 2)
    ]
    person = clicked(LATE + 2.5, link=0)
    replay = Replay(detector()).feed(delivered(), *prefetches, person)
    assert "burst.proven" not in codes(replay.settled(person))
    assert not replay.settled(person).suspected


@pytest.mark.parametrize(
    ("with_agent", "without_agent", "absent"),
    [
        (60, 0, True),  # the provider reports agents: the client sent none
        (20, 0, False),  # too few clicks yet to know the provider's habit
        (0, 60, False),  # a provider that never reports agents (Customer.io)
        (60, 10, False),  # one that often reports none: no habit to break
    ],
)
def test_absent_agent_where_the_provider_reports_them(
    with_agent: int, without_agent: int, absent: bool
) -> None:
    """A click without an agent is a client that sent none only where its provider's other
    clicks carry one; the habit is learnt from the clicks, never assumed."""
    earlier = [
        clicked(LATE + 100 * n, message=f"other{n}", agent=CHROME if n < with_agent else None)
        for n in range(with_agent + without_agent)
    ]
    bare = clicked(LATE * 30, message="m9", agent=None)
    replay = Replay(detector()).feed(*earlier, bare)
    assert ("ua.absent" in codes(replay.settled(bare))) is absent
    assert replay.settled(bare).suspected is absent


def test_absent_agent_is_judged_per_source() -> None:
    """Another source's habit says nothing: a second endpoint of the same ESP, or a generic
    one mapping other fields, may carry no agents at all."""
    earlier = [clicked(LATE + 100 * n, message=f"other{n}") for n in range(60)]
    bare = clicked(LATE * 30, message="m9", agent=None).model_copy(update={"source": "cio"})
    assert "ua.absent" not in codes(Replay(detector()).feed(*earlier, bare).settled(bare))
