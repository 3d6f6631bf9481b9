"""Events this process has just stored, kept briefly for its own processor.

With the loops inline, the processor routes an event moments after the webhook stored it.
Parsing and validating the stored payload again (for the bot detector) costs ~40 µs a
click in place, so ingest hands over the model it already has. The stored payload is our
own serialisation of that very model (to_json then model_validate_json is a round trip),
so both are the same event. Bounded: anything evicted, or stored by another process, is
read back from the database as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from schemas import Event

DEFAULT_LIMIT = 4096


class RecentEvents:
    """Thread-safe through OrderedDict's atomic operations (ingest and the writer thread)."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._events: OrderedDict[str, Event] = OrderedDict()

    def remember(self, events: Iterable[Event]) -> None:
        for event in events:
            self._events[event.id] = event
        while len(self._events) > self.limit:
            try:
                self._events.popitem(last=False)
            except KeyError:  # emptied meanwhile by `take`
                break

    def take(self, event_id: str, event_type: str) -> Event | None:
        """The stored event's model, once; None if this process does not hold it."""
        event = self._events.pop(event_id, None)
        return event if event is not None and event.type == event_type else None

    def __len__(self) -> int:
        return len(self._events)
