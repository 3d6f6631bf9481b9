"""Read-only views for the dashboard (`/ui`): filtered event pages and per-source health.

Both backends implement `ViewOps` (sqlite_views.py, postgres_views.py) with cheap, indexed
queries (migration 0004.views): a page is at most `limit` rows, newest first, and a source's
health reads one index range per source. A filter on the type, the verdict or a rule has no
index: the dashboard bounds what such a page may walk with `floor` (see ui/views.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

DELIVERY_STATUSES = ("pending", "dead", "delivered")


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters of the events page; `suspected` None means any verdict, `before` pages by seq,
    `floor` is the lowest seq the page looks at (None: down to the first event)."""

    source: str | None = None
    type: str | None = None
    suspected: bool | None = None
    rule: str | None = None
    before: int | None = None
    limit: int = 50
    floor: int | None = None


@dataclass(frozen=True, slots=True)
class SourceView:
    """One source's health since a moment: what was stored, what was refused and why.

    `accepted` counts the source's events from the first one that arrived at or after the
    moment (events are numbered in arrival order, so this reads one index range).
    """

    source: str
    last_event_at: float | None
    accepted: int
    rejected: int
    last_rejected_at: float | None
    last_rejection: str | None


class ViewOps(Protocol):
    def event_page(self, query: EventQuery) -> list[dict[str, Any]]:
        """Events as `list_events` returns them, newest first, filtered by `query`."""
        ...

    def source_view(self, source: str, since: float) -> SourceView:
        """Last event ever seen; events stored and items rejected since `since`."""
        ...

    def delivery_counts(self, cap: int) -> dict[str, int]:
        """Deliveries per status (pending, dead, delivered), each counted to `cap` + 1 at
        most: one index range per status, however many rows the outbox keeps."""
        ...

    def event_seqs(self) -> tuple[int, int]:
        """The first and last stored event's seq ((0, 0) for none), read off the key."""
        ...
