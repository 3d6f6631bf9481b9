"""The rows the detector keeps as evidence, and the in-memory indexes both stores answer from.

`ClickRecord` and `DeliveryRecord` are what `MemoryState` holds and what `SqliteState`
stores in `bot_clicks` / `bot_deliveries`. `Timeline`, `Deliveries` and `MessageRows` are
the indexes `MemoryState` and the SQLite mirror (`mirror.py`) answer queries from, so both
give the answers the SQL they stand for would. Each index carries a `stamp`, unique in the
process and renewed on every change, so the detector can tell cheaply that the evidence for
a message or an address is exactly what it was (see `BotState.snapshot`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import count
from math import inf
from typing import NamedTuple

DEFAULT_TTL_SECONDS = 6 * 3600.0
_STAMPS = count(1)  # 0 stands for "no rows held"


class ClickRecord(NamedTuple):
    event_id: str
    message_key: str  # "" when the event names no message
    link_key: str
    recipient_key: str
    ip: str  # "" when unknown
    network: str  # /24 or /48 of `ip`; "" when unknown
    occurred: float
    received: float
    # points from the click's own IP, agent and direct evidence (hidden link, HEAD, ESP flag):
    # who is the scanner in a pair; what a sweep's other clicks inherit (behaviour.proven_sweep)
    evidence: int


class DeliveryRecord(NamedTuple):
    occurred: float
    received: float


class Timeline:
    """Clicks ordered by (occurred, event_id), as `ORDER BY occurred, event_id` returns them.

    Windows bisect a parallel list of floats (cheaper than tuple keys), and recipients are
    counted from a parallel list of their keys (a set of a slice, no per-row attribute
    read); `oldest` is the earliest arrival held, so pruning skips timelines with nothing
    to drop.
    """

    __slots__ = ("items", "newest", "oldest", "people", "stamp", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.items: list[ClickRecord] = []
        self.people: list[str] = []  # recipient_key of each item
        self.oldest = inf
        self.newest = -inf
        self.stamp = next(_STAMPS)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, click: ClickRecord) -> None:
        times, occurred = self.times, click.occurred
        if not times or occurred > times[-1]:  # the usual case: clicks come in order
            times.append(occurred)
            self.items.append(click)
            self.people.append(click.recipient_key)
        else:
            position = bisect_right(times, occurred)
            if position and times[position - 1] == occurred:  # ties are ordered by event id
                low = bisect_left(times, occurred, 0, position)
                while position > low and self.items[position - 1].event_id > click.event_id:
                    position -= 1
            times.insert(position, occurred)
            self.items.insert(position, click)
            self.people.insert(position, click.recipient_key)
        received = click.received
        if received < self.oldest:
            self.oldest = received
        if received > self.newest:
            self.newest = received
        self.stamp = next(_STAMPS)

    def window(self, start: float, end: float, received_by: float) -> list[ClickRecord]:
        """Clicks with start <= occurred <= end that had arrived by `received_by`."""
        times = self.times
        low = bisect_left(times, start)
        high = bisect_right(times, end, low)
        if self.newest <= received_by:
            return self.items[low:high]
        return [c for c in self.items[low:high] if c.received <= received_by]

    def recipients(self, start: float, end: float, received_by: float) -> int:
        """Distinct recipient keys in the window."""
        times = self.times
        low = bisect_left(times, start)
        high = bisect_right(times, end, low)
        if self.newest <= received_by:
            return len(set(self.people[low:high]))
        items = self.items[low:high]
        return len({c.recipient_key for c in items if c.received <= received_by})

    def drop_before(self, cutoff: float) -> int:
        """Forget clicks that arrived before `cutoff`; returns how many were dropped."""
        if self.oldest >= cutoff:
            return 0
        kept = [c for c in self.items if c.received >= cutoff]
        dropped = len(self.items) - len(kept)
        self.items = kept
        self.times = [c.occurred for c in kept]
        self.people = [c.recipient_key for c in kept]
        self.oldest = min((c.received for c in kept), default=inf)
        self.newest = max((c.received for c in kept), default=-inf)
        self.stamp = next(_STAMPS)
        return dropped


class Deliveries:
    """A message's deliveries by occurrence, one per `occurred` (the SQL primary key)."""

    __slots__ = ("items", "newest", "stamp")

    def __init__(self) -> None:
        self.items: list[DeliveryRecord] = []
        self.newest = -inf
        self.stamp = next(_STAMPS)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, record: DeliveryRecord) -> bool:
        """Keep `record` unless one with the same `occurred` is held; True when added."""
        items = self.items
        position = bisect_left(items, (record.occurred,))
        if position < len(items) and items[position].occurred == record.occurred:
            return False
        items.insert(position, record)
        self.newest = max(self.newest, record.received)
        self.stamp = next(_STAMPS)
        return True

    def earliest(self, received_by: float) -> DeliveryRecord | None:
        """The earliest delivery that had arrived by `received_by`."""
        for record in self.items:
            if record.received <= received_by:
                return record
        return None

    def drop_before(self, cutoff: float) -> int:
        kept = [r for r in self.items if r.received >= cutoff]
        dropped = len(self.items) - len(kept)
        if dropped:
            self.items = kept
            self.newest = max((r.received for r in kept), default=-inf)
            self.stamp = next(_STAMPS)
        return dropped


class MessageRows:
    """Everything held for one message key: its deliveries and its clicks."""

    __slots__ = ("clicks", "deliveries")

    def __init__(self) -> None:
        self.deliveries = Deliveries()
        self.clicks = Timeline()

    def __len__(self) -> int:
        return len(self.deliveries) + len(self.clicks)

    def drop_before(self, cutoff: float) -> int:
        return self.deliveries.drop_before(cutoff) + self.clicks.drop_before(cutoff)

    @property
    def newest(self) -> float:
        return max(self.deliveries.newest, self.clicks.newest)


class Snapshot(NamedTuple):
    """The stamps of a message's and an address's rows, and the latest arrival among them."""

    deliveries: int
    clicks: int
    address: int
    newest: float


def snapshot(message: MessageRows | None, address: Timeline | None) -> Snapshot:
    """Equal snapshots of the same store mean the very same rows (stamps never repeat)."""
    if message is None:
        if address is None:
            return Snapshot(0, 0, 0, -inf)
        return Snapshot(0, 0, address.stamp, address.newest)
    deliveries, clicks = message.deliveries, message.clicks
    newest = deliveries.newest if deliveries.newest > clicks.newest else clicks.newest
    if address is None:
        return Snapshot(deliveries.stamp, clicks.stamp, 0, newest)
    if address.newest > newest:
        newest = address.newest
    return Snapshot(deliveries.stamp, clicks.stamp, address.stamp, newest)
