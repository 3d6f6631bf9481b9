"""Recent clicks on each link of a campaign, across its recipients, held in this process.

A gateway scans the copies it receives of one campaign as they arrive, so many recipients'
copies of one link are fetched within the same second or two ("many clicks at delivery
time", "the same link clicked for many contacts at once": Insider, HubSpot), while people
read when they notice the mail. This holds without user agent or address (Customer.io's
click webhooks carry neither), where the message's own clicks say little. People do it too
when a large newsletter reaches many readers at once (a push notification), so it is weak
evidence (`burst.recipients`).

The index is the detector's own, in memory: a restarted process starts empty and two
processes do not share it, so the signal may be missed, never invented. It is bounded: rows
older than `horizon` seconds before the newest arrival of their link are dropped, and past
`max_rows` the links first clicked longest ago are forgotten whole. Queries take `received_by`
like `BotState`'s, so a replay gives the same verdicts however late it settles.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from math import inf
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connector.bots.facts import Facts

MAX_ROWS = 200_000  # ~80 bytes a row: ~16 MB at most
LONG_STARTED = -1.0  # in place of a campaign's arrivals: its first delivery is long past


class _Link:
    """One campaign link's recent clicks, ordered by occurrence."""

    __slots__ = ("newest", "people", "received", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.received: list[float] = []
        self.people: list[str] = []
        self.newest = 0.0


class CrowdIndex:
    """Per campaign link: when which recipient clicked it (occurrence, arrival); and, in
    `starts`, each campaign's first delivery."""

    def __init__(self, window: float, horizon: float, max_rows: int = MAX_ROWS) -> None:
        """`window`: how close in time other recipients' clicks count (`answers`)."""
        self.window = window
        self.horizon = horizon
        self.max_rows = max_rows
        self.rows = 0
        self._links: dict[str, _Link] = {}  # first clicked longest ago first
        self.starts = CampaignStarts(horizon)

    def add(self, key: str, occurred: float, received: float, recipient: str) -> None:
        links = self._links
        link = links.get(key)
        if link is None:
            if self.rows >= self.max_rows:
                self._forget()
            link = links[key] = _Link()
        times = link.times
        if not times or occurred >= times[-1]:  # the usual case: clicks come in order
            times.append(occurred)
            link.received.append(received)
            link.people.append(recipient)
        else:
            position = bisect_right(times, occurred)
            times.insert(position, occurred)
            link.received.insert(position, received)
            link.people.insert(position, recipient)
        self.rows += 1
        if received > link.newest:
            link.newest = received
            if times[0] < received - self.horizon:
                self._drop_old(link)

    def _forget(self) -> None:
        """Past `max_rows`, the links first clicked longest ago go whole."""
        links = self._links
        while self.rows >= self.max_rows and links:
            self.rows -= len(links.pop(next(iter(links))).times)

    def _drop_old(self, link: _Link) -> None:
        cut = bisect_left(link.times, link.newest - self.horizon)
        del link.times[:cut], link.received[:cut], link.people[:cut]
        self.rows -= cut

    def others(self, facts: Facts, by: float) -> int:
        """How many recipients other than the click's own clicked its campaign link within
        `window` seconds of it, counting arrivals up to `by`."""
        record = facts.record
        link = self._links.get(facts.crowd_key)
        if link is None:
            return 0
        times, occurred, window = link.times, record.occurred, self.window
        low = bisect_left(times, occurred - window)
        high = bisect_right(times, occurred + window, low)
        recipient = record.recipient_key
        if high - low < 2:  # the common case: nobody else, or one click
            if high == low or link.people[low] == recipient or link.received[low] > by:
                return 0
            return 1
        received, people = link.received, link.people
        seen = {people[i] for i in range(low, high) if received[i] <= by}
        seen.discard(recipient)
        return len(seen)


class CampaignStarts:
    """When each campaign's first reported delivery occurred, as seen at any arrival time.

    A message is delivered no earlier than its campaign's first delivery, so a click within
    `at_delivery_seconds` of that came at most that long after its own message's delivery,
    even when the ESP reported no delivery for it (or reports it after the settled verdict).
    Per campaign: arrivals in order with the earliest occurrence so far (a running minimum),
    at most `max_rows` of them (later ones no longer move the minimum much); once the first
    delivery is `horizon` seconds older than the newest arrival the campaign is "long
    started" and only that is kept. At most `max_campaigns`, the longest held out first.

    A campaign may have started before this index saw it (the process started, or the
    campaign was forgotten while delivering), so a first delivery that arrived within
    `horizon` of the index's opening (or of its last forgetting) is not taken as the first:
    the evidence may be missed, never invented.
    """

    def __init__(self, horizon: float, max_rows: int = 1024, max_campaigns: int = 10_000) -> None:
        self.horizon = horizon
        self.max_rows = max_rows
        self.max_campaigns = max_campaigns
        # campaign -> (arrival times, earliest occurrence by then); empty lists: long started
        self.campaigns: dict[str, tuple[list[float], list[float]]] = {}
        self.opened = inf  # the first arrival seen, or the last forgetting

    def add(self, key: str, occurred: float, received: float) -> None:
        campaigns = self.campaigns
        rows = campaigns.get(key)
        if rows is None:
            if self.opened == inf:
                self.opened = received
            while len(campaigns) >= self.max_campaigns:
                del campaigns[next(iter(campaigns))]
                self.opened = received  # a campaign forgotten may be delivering still
            rows = campaigns[key] = ([], [])
        arrivals, earliest = rows
        if arrivals and arrivals[0] == LONG_STARTED:
            return
        if earliest and received - earliest[-1] > self.horizon:
            arrivals[:] = [LONG_STARTED]
            earliest.clear()
            return
        if len(arrivals) >= self.max_rows:
            return
        if not arrivals or received >= arrivals[-1]:  # the usual case: in arrival order
            arrivals.append(received)
            earliest.append(occurred if not earliest or occurred < earliest[-1] else earliest[-1])
            return
        at = bisect_right(arrivals, received)
        arrivals.insert(at, received)
        earliest.insert(at, occurred)
        for i in range(max(at, 1), len(earliest)):  # the running minimum from `at` on
            if earliest[i - 1] < earliest[i]:
                earliest[i] = earliest[i - 1]

    def first(self, key: str, received_by: float) -> float | None:
        """The campaign's earliest delivery among those that had arrived by `received_by`;
        None when none had, or the campaign started long ago."""
        rows = self.campaigns.get(key)
        if rows is None:
            return None
        arrivals, earliest = rows
        if not arrivals or arrivals[0] < self.opened + self.horizon:
            return None  # long started (LONG_STARTED), or may have before this index saw it
        at = bisect_right(arrivals, received_by)
        return earliest[at - 1] if at else None
