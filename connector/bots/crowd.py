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
`max_rows` the links least recently clicked are forgotten whole. Queries take `received_by`
like `BotState`'s, so a replay gives the same verdicts however late it settles.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import count

MAX_ROWS = 200_000  # ~80 bytes a row: ~16 MB at most
_STAMPS = count(1)  # 0 stands for "no rows held"
_LONG_STARTED = -1.0  # in place of a campaign's arrivals: its first delivery is long past


class _Link:
    """One campaign link's recent clicks, ordered by occurrence."""

    __slots__ = ("newest", "people", "received", "stamp", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.received: list[float] = []
        self.people: list[str] = []
        self.newest = 0.0
        self.stamp = next(_STAMPS)


class CrowdIndex:
    """Per campaign link: when which recipient clicked it (occurrence, arrival)."""

    def __init__(self, horizon: float, max_rows: int = MAX_ROWS) -> None:
        self.horizon = horizon
        self.max_rows = max_rows
        self.rows = 0
        self._links: dict[str, _Link] = {}  # least recently clicked first

    def add(self, key: str, occurred: float, received: float, recipient: str) -> None:
        links = self._links
        link = links.pop(key, None)
        if link is None:
            link = _Link()
        links[key] = link  # now the most recently clicked
        times = link.times
        if not times or occurred >= times[-1]:
            position = len(times)
        else:
            position = bisect_right(times, occurred)
        times.insert(position, occurred)
        link.received.insert(position, received)
        link.people.insert(position, recipient)
        self.rows += 1
        if received > link.newest:
            link.newest = received
        link.stamp = next(_STAMPS)
        if times[0] < link.newest - self.horizon:
            self._drop_old(link)
        while self.rows > self.max_rows and len(links) > 1:
            oldest = next(iter(links))
            self.rows -= len(links.pop(oldest).times)

    def _drop_old(self, link: _Link) -> None:
        cut = bisect_left(link.times, link.newest - self.horizon)
        del link.times[:cut], link.received[:cut], link.people[:cut]
        self.rows -= cut

    def others(self, key: str, recipient: str, start: float, end: float, received_by: float) -> int:
        """Distinct recipients other than `recipient` who clicked the link with
        start <= occurred <= end and whose click had arrived by `received_by`."""
        link = self._links.get(key)
        if link is None:
            return 0
        times = link.times
        low = bisect_left(times, start)
        high = bisect_right(times, end, low)
        if high == low:
            return 0
        received, people = link.received, link.people
        seen = {people[i] for i in range(low, high) if received[i] <= received_by}
        seen.discard(recipient)
        return len(seen)

    def snapshot(self, key: str) -> tuple[int, float]:
        """(stamp, latest arrival) of the link's rows; the stamp changes whenever the rows
        do (0: none held), as `BotState.snapshot`'s."""
        link = self._links.get(key)
        return (link.stamp, link.newest) if link is not None else (0, 0.0)


class CampaignStarts:
    """When each campaign's first reported delivery occurred, as seen at any arrival time.

    A message is delivered no earlier than its campaign's first delivery, so a click within
    `at_delivery_seconds` of that came at most that long after its own message's delivery,
    even when the ESP reported no delivery for it (or reports it after the settled verdict).
    Per campaign: arrivals in order with the earliest occurrence so far (a running minimum),
    at most `max_rows` of them (later ones no longer move the minimum much); once the first
    delivery is `horizon` seconds older than the newest arrival the campaign is "long
    started" and only that is kept. At most `max_campaigns`, least recently delivered out.

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
        self._campaigns: dict[str, tuple[list[float], list[float]]] = {}
        self._opened: float | None = None  # the first arrival seen, or the last forgetting

    def add(self, key: str, occurred: float, received: float) -> None:
        campaigns = self._campaigns
        if self._opened is None:
            self._opened = received
        rows = campaigns.pop(key, None)
        if rows is None:
            rows = ([], [])
            while len(campaigns) >= self.max_campaigns:
                del campaigns[next(iter(campaigns))]
                self._opened = received  # a campaign forgotten may be delivering still
        campaigns[key] = rows  # now the most recently delivered
        arrivals, earliest = rows
        if arrivals and arrivals[0] == _LONG_STARTED:
            return
        if earliest and received - earliest[-1] > self.horizon:
            arrivals[:] = [_LONG_STARTED]
            earliest.clear()
            return
        if len(arrivals) >= self.max_rows:
            return
        at = bisect_right(arrivals, received)  # the end, unless it arrived out of order
        arrivals.insert(at, received)
        earliest.insert(at, occurred)
        for i in range(max(at, 1), len(earliest)):  # the running minimum from `at` on
            if earliest[i - 1] < earliest[i]:
                earliest[i] = earliest[i - 1]

    def first(self, key: str, received_by: float) -> float | None:
        """The campaign's earliest delivery among those that had arrived by `received_by`;
        None when none had, or the campaign started long ago."""
        rows = self._campaigns.get(key)
        if rows is None:
            return None
        arrivals, earliest = rows
        if not arrivals or arrivals[0] == _LONG_STARTED:
            return None
        opened = self._opened
        if opened is None or arrivals[0] < opened + self.horizon:
            return None  # it may have started before this index saw it
        at = bisect_right(arrivals, received_by)
        return earliest[at - 1] if at else None

    def version(self, key: str) -> int:
        """Changes whenever what `first` can answer for the campaign does."""
        rows = self._campaigns.get(key)
        return len(rows[0]) if rows is not None else 0
