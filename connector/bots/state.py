"""Evidence the detector keeps between events: delivery times and recent clicks.

`BotState` is the contract; `MemoryState` serves replays (`bots evaluate`) and tests; the
storage backends implement it on their own connection (`connector/storage/sqlite_bots.py`),
so evidence is shared by every replica using the same store. Times are epoch seconds
(float). Every query takes `received_by` so a verdict only sees what had arrived by then:
replaying stored events gives the same verdicts however late the settle pass runs. Rows
live `ttl_seconds` after arrival (`prune`).
"""

from __future__ import annotations

from typing import Protocol

from connector.bots.records import (
    DEFAULT_TTL_SECONDS,
    ClickRecord,
    DeliveryRecord,
    MessageRows,
    Snapshot,
    Timeline,
    snapshot,
)

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "BotState",
    "ClickRecord",
    "DeliveryRecord",
    "MemoryState",
    "Snapshot",
]


class BotState(Protocol):
    def record_delivery(self, message_key: str, occurred: float, received: float) -> None: ...

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        """The earliest delivery of the message that had arrived by `received_by`."""
        ...

    def record_click(self, click: ClickRecord) -> None:
        """Store a click once (a repeated event id is ignored)."""
        ...

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        """Clicks of a message with start <= occurred <= end, ordered by (occurred, id)."""
        ...

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        """Distinct recipients that `ip` clicked for with start <= occurred <= end."""
        ...

    def prune(self, now: float) -> int:
        """Forget rows that arrived more than the TTL before `now`; returns rows removed."""
        ...

    def snapshot(self, message_key: str, ip: str) -> Snapshot | None:
        """The stamps of the rows held for this message and address, None if not at hand.

        Equal snapshots from the same store mean nothing was added or removed in between,
        so every query about that message and address would answer the same. Must be cheap:
        None (nothing known without a read) is always a correct answer.
        """
        ...


class MemoryState:
    """In-process evidence for replays and tests."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._clicks: dict[str, ClickRecord] = {}
        self._by_message: dict[str, MessageRows] = {}
        self._by_ip: dict[str, Timeline] = {}

    def record_delivery(self, message_key: str, occurred: float, received: float) -> None:
        rows = self._by_message.get(message_key)
        if rows is None:
            rows = self._by_message[message_key] = MessageRows()
        rows.deliveries.add(DeliveryRecord(occurred, received))

    def delivery(self, message_key: str, received_by: float) -> DeliveryRecord | None:
        rows = self._by_message.get(message_key)
        return rows.deliveries.earliest(received_by) if rows is not None else None

    def record_click(self, click: ClickRecord) -> None:
        if click.event_id in self._clicks:
            return
        self._clicks[click.event_id] = click
        if click.message_key:
            rows = self._by_message.get(click.message_key)
            if rows is None:
                rows = self._by_message[click.message_key] = MessageRows()
            rows.clicks.add(click)
        if click.ip:
            timeline = self._by_ip.get(click.ip)
            if timeline is None:
                timeline = self._by_ip[click.ip] = Timeline()
            timeline.add(click)

    def message_clicks(
        self, message_key: str, start: float, end: float, received_by: float
    ) -> list[ClickRecord]:
        rows = self._by_message.get(message_key)
        return rows.clicks.window(start, end, received_by) if rows is not None else []

    def ip_recipients(self, ip: str, start: float, end: float, received_by: float) -> int:
        timeline = self._by_ip.get(ip)
        return timeline.recipients(start, end, received_by) if timeline is not None else 0

    def prune(self, now: float) -> int:
        cutoff = now - self.ttl_seconds
        stale = [c.event_id for c in self._clicks.values() if c.received < cutoff]
        for event_id in stale:
            del self._clicks[event_id]
        removed = len(stale)
        for key, rows in list(self._by_message.items()):
            removed += rows.deliveries.drop_before(cutoff)
            rows.clicks.drop_before(cutoff)
            if not len(rows):
                del self._by_message[key]
        for ip, timeline in list(self._by_ip.items()):
            if timeline.drop_before(cutoff) and not len(timeline):
                del self._by_ip[ip]
        return removed

    def snapshot(self, message_key: str, ip: str) -> Snapshot | None:
        message = self._by_message.get(message_key) if message_key else None
        return snapshot(message, self._by_ip.get(ip) if ip else None)
