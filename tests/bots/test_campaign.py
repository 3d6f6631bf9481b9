"""Evidence across a campaign's recipients: many copies of one link clicked at once, and the
campaign's first delivery standing in for a message's unreported one (connector/bots/crowd.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.bots.crowd import CampaignStarts, CrowdIndex
from connector.bots.facts import Facts
from connector.bots.records import ClickRecord
from schemas.events import Bot, EmailClicked, EmailDelivered
from tests.bots.helpers import CLOUD, T0, Replay, clicked, codes, delivered, detector

LATE = 1800.0
EARLIER = -3600.0  # a campaign delivered an hour before, so the index has been watching


def _settled(*events: EmailClicked | EmailDelivered) -> dict[str, Bot]:
    replay = Replay(detector()).feed(*events)
    return {e.id: replay.settled(e) for e in events if isinstance(e, EmailClicked)}


def _crowd(at: float, recipients: int, spacing: float, **extra: object) -> list[EmailClicked]:
    """One click by each of `recipients` people on link 0 of campaign "c"."""
    return [
        clicked(at + spacing * n, message=f"m{n}", campaign="c", recipient=f"r{n}", **extra)
        for n in range(recipients)
    ]


@pytest.mark.parametrize(
    ("recipients", "spacing", "found"),
    [(3, 0.5, True), (2, 0.5, False), (3, 3.0, False)],  # 3 within 2 s; too few; too slow
)
def test_many_recipients_on_one_link(recipients: int, spacing: float, found: bool) -> None:
    """3+ recipients' copies of one campaign link clicked within the burst window."""
    verdicts = _settled(*_crowd(LATE, recipients, spacing, agent=None, ip=None))
    for verdict in verdicts.values():
        assert ("burst.recipients" in codes(verdict)) is found
        assert not verdict.suspected  # weak alone: a newsletter's readers after a push


@pytest.mark.parametrize(
    ("after", "counted"),
    [(8.0, {"timing.under_10s"}), (45.0, {"burst.recipients"})],
)
def test_crowd_and_timing_do_not_add_up(after: float, counted: set[str]) -> None:
    """Both say "when the gateways scan": the stronger counts, the other named in its detail
    (a fast reader's click meets other recipients' scans)."""
    events = [delivered(f"m{n}", recipient=f"r{n}", campaign_id="c") for n in range(3)]
    crowd = _crowd(after, 3, 0.5, agent=None, ip=None)
    verdict = _settled(*events, *crowd)[crowd[0].id]
    assert codes(verdict) == counted
    assert "recipients clicked this link" in verdict.reasons[0].detail


@pytest.mark.parametrize(("started", "found"), [(EARLIER, True), (None, False)])
def test_sweep_soon_after_the_campaigns_first_delivery(started: float | None, found: bool) -> None:
    """A message with no delivered event, swept 30 s after its campaign's first delivery:
    no copy is delivered before its campaign's first. Not when that first delivery may not
    be the first (the detector had seen nothing before it)."""
    events: list[EmailClicked | EmailDelivered] = []
    if started is not None:
        events.append(delivered("old", at=T0 + timedelta(seconds=started), campaign_id="old"))
    events.append(delivered("m1", recipient="r1", campaign_id="c"))
    sweep = [clicked(30 + 0.4 * n, message="m9", link=n, campaign="c", ip=CLOUD) for n in range(3)]
    verdicts = _settled(*events, *sweep)
    assert ("behaviour.at_delivery" in codes(verdicts[sweep[0].id])) is found
    assert verdicts[sweep[0].id].suspected is found  # cloud 25 + burst 30 (+ 20)


def _others(index: CrowdIndex, link: str, recipient: str, at: float, by: float = 1e9) -> int:
    """Other recipients on `link` within the index's window of `at`, arrived by `by`."""
    record = ClickRecord("e", "m", "p0", recipient, "", "", at, at, 0)
    return index.others(Facts(record, (), "c", link, 0), by)


def test_crowd_index_is_bounded() -> None:
    """Rows older than the horizon before their link's newest arrival go; once max_rows are
    held, a new link makes the links first clicked longest ago go whole."""
    index = CrowdIndex(window=150.0, horizon=100.0, max_rows=4)
    index.add("a", 0.0, 1.0, "r1")
    index.add("a", 200.0, 201.0, "r2")  # r1's click is now beyond the horizon
    assert _others(index, "a", "x", 150.0) == 1
    for link, recipients in (("b", ("r3", "r4")), ("c", ("r5", "r6"))):
        for n, recipient in enumerate(recipients):
            index.add(link, 200.0 + n, 201.0 + n, recipient)
    assert _others(index, "b", "r3", 200.0, by=201.0) == 0  # r4 had not arrived by then
    index.add("d", 202.0, 203.0, "r7")  # 5 rows held: "a" then "b" go
    assert [_others(index, link, "x", 200.0) for link in "abcd"] == [0, 0, 2, 1]
    assert index.rows == 3


def test_campaign_starts_running_minimum() -> None:
    """The earliest delivery seen by each arrival time, a late arrival included; a campaign
    first seen when the index opened, or long started, answers nothing."""
    starts = CampaignStarts(horizon=100.0)
    starts.add("opening", 0.0, 0.0)
    starts.add("c", 500.0, 505.0)
    starts.add("c", 502.0, 510.0)
    starts.add("c", 498.0, 507.0)  # out of arrival order, and earlier
    assert [starts.first("c", t) for t in (504.0, 506.0, 508.0, 520.0)] == [
        None,
        500.0,
        498.0,
        498.0,
    ]
    assert starts.first("opening", 1.0) is None
    starts.add("c", 700.0, 701.0)  # 200 s after the first: long started
    assert starts.first("c", 800.0) is None


def test_forget_campaigns_starts_a_new_stream() -> None:
    """After `forget_campaigns` (a replay of another stream) earlier recipients' clicks on
    the link no longer count."""
    found = detector()
    first, second, third = _crowd(LATE, 3, 0.5, agent=None, ip=None)
    replay = Replay(found).feed(first, second)
    found.forget_campaigns()
    replay.feed(third)
    assert "burst.recipients" not in codes(replay.settled(third))
