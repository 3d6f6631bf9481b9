"""What a click adds to the reports: the processor adds each click it routes, and each it
settles, to a `ReportCounts`, and flushes it in the same transaction before committing.

A click counts under every subject it names: its link by canonical URL (an ESP click) or
its trigger link by slug (a `link.clicked`), its campaign and its message. Clicks a
scenario check emitted are not clicks anyone made and are not counted; a click with no
recipient is counted, but is no contact. With no settling phase to come (no bot detector,
or a click the detector settles at once) the immediate verdict is the settled one too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connector.scenarios.keys import message_ids, recipient_key
from connector.storage.report_records import CountedClick, Subject
from connector.storage.report_records import ReportOps as Tx

CLICK_TYPES = frozenset({"email.clicked", "link.clicked"})


class ReportCounts:
    """The clicks one processor transaction routed or settled, counted together when its
    batch ends (`flush`), so each aggregate row is written once per batch, in key order."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.clicks: list[CountedClick] = []
        self.settlements: list[CountedClick] = []

    def click(self, data: dict[str, Any], suspected: bool, settle_at: float | None) -> None:
        """A processed click with its immediate verdict (final when nothing settles it)."""
        click = counted(data, suspected, self.now, final=settle_at is None)
        if click is not None:
            self.clicks.append(click)

    def settled(self, data: dict[str, Any], suspected: bool) -> None:
        """A click's settled verdict (counted once; its hour is the one it was counted in)."""
        click = counted(data, suspected, self.now)
        if click is not None:
            self.settlements.append(click)

    def flush(self, tx: Tx) -> None:
        if self.clicks:
            tx.count_clicks(self.clicks)
        if self.settlements:
            tx.count_settlements(self.settlements)
        self.clicks, self.settlements = [], []


def counted(
    data: dict[str, Any], suspected: bool, now: float, *, final: bool = False
) -> CountedClick | None:
    """The click as the aggregates count it, or None for an event that is no such click."""
    if data.get("type") not in CLICK_TYPES or data.get("scenario") is not None:
        return None
    subjects = subjects_of(data)
    if not subjects:
        return None
    return CountedClick(
        event_id=str(data.get("id", "")),
        subjects=subjects,
        recipient=recipient_key(data),
        at=_epoch(data.get("occurred_at")) or now,
        suspected=suspected,
        final=final,
    )


def subjects_of(data: dict[str, Any]) -> tuple[tuple[Subject, str], ...]:
    """Every (subject, key) a click counts under; empty keys are left out."""
    link = data.get("link") or {}
    message_id, campaign_id = message_ids(data)
    if data.get("type") == "link.clicked":
        named: list[tuple[Subject, Any]] = [("trigger", link.get("id"))]
    else:
        named = [("link", link.get("canonical"))]
    named += [("campaign", campaign_id), ("message", message_id)]
    return tuple((subject, key) for subject, key in named if isinstance(key, str) and key)


def _epoch(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
