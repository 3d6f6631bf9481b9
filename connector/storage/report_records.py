"""Click reports as storage keeps them: aggregates updated as clicks are indexed and
settled, so a report page reads a few rows instead of scanning the clicks.

A report is about one *subject*: a link by its canonical URL (`link`), a trigger link by
slug (`trigger`), a campaign (`campaign`) or a message (`message`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

Subject = Literal["link", "trigger", "campaign", "message"]

# PostgreSQL's btree index rows hold at most 2,704 bytes, and a contact row's key is the
# subject, its key and the recipient: two bounded keys fit with room to spare.
KEY_BYTES = 1000
_KEPT_BYTES = KEY_BYTES - 40  # room for "…" (3 bytes) and the digest's 32 hex characters


def stored_key(key: str) -> str:
    """A report key (or recipient) as the tables hold it: as given up to `KEY_BYTES` bytes
    of UTF-8; a longer one (a canonical URL with a long query string) cut there and ended
    with "…" and 32 hex characters of its SHA-256, so it stays unique, says what it is, and
    fits an index row. Applying it twice changes nothing, so a key read back from a report
    finds its report again."""
    if len(key) <= KEY_BYTES // 4:
        return key
    data = key.encode()
    if len(data) <= KEY_BYTES:
        return key
    kept = data[:_KEPT_BYTES].decode(errors="ignore")
    return f"{kept}…{hashlib.sha256(data).hexdigest()[:32]}"


@dataclass(frozen=True, slots=True)
class ReportTotals:
    subject: Subject
    key: str
    clicks: int
    contacts: int  # unique recipients (anonymous clicks are not contacts)
    human_immediate: int  # clicks whose immediate verdict says human
    human_settled: int  # clicks whose settled verdict says human (settled so far)
    suspected_immediate: int
    suspected_settled: int
    first_at: float | None
    last_at: float | None


@dataclass(frozen=True, slots=True)
class ContactClicks:
    recipient: str
    clicks: int
    human_clicks: int  # by the latest verdict
    first_at: float
    last_at: float


@dataclass(frozen=True, slots=True)
class TimeBucket:
    start: float  # bucket start, Unix seconds (hour buckets)
    clicks: int
    human: int


@dataclass(frozen=True, slots=True)
class CountedClick:
    """One click as the report aggregates count it (`connector/reports/recorder.py`)."""

    event_id: str
    subjects: tuple[tuple[Subject, str], ...]  # every (subject, key) the click counts under
    recipient: str | None  # None: an anonymous click (counted, but not a contact)
    at: float  # when it was made (its hour bucket)
    suspected: bool  # the verdict being counted: immediate, or settled in `count_settlements`
    final: bool = False  # no settling phase follows: the immediate verdict is also settled


@dataclass(frozen=True, slots=True)
class ReportReset:
    """The report tables were emptied at one moment: of the events up to `last_seq`, those
    processed by then are a rebuild's to count; `pending` (not processed then) and every
    later event are the processor's, which counts them as it routes them."""

    last_seq: int
    pending: frozenset[int]


@dataclass(frozen=True, slots=True)
class ReportEvent:
    """A processed click as stored, with what its counting needs (`connector report rebuild`)."""

    seq: int
    payload: bytes
    received_at: float
    bot: bytes | None  # the immediate verdict, or the settled one once settled
    decision: bytes | str | None  # {"immediate": ..., "settled": ...}
    settle_at: float | None
    settled: bool


class ReportOps(Protocol):
    """Report operations every backend's transaction offers (part of `Tx`)."""

    def count_clicks(self, clicks: list[CountedClick]) -> None:
        """Add clicks to their subjects' totals, contact rows and hour buckets."""
        ...

    def count_settlements(self, clicks: list[CountedClick]) -> None:
        """Count the settled verdicts of clicks counted before with `final=False` (each
        once: a second settlement, or one of a click never counted, changes nothing)."""
        ...

    def report_totals(self, subject: Subject, key: str) -> ReportTotals | None: ...
    def report_subjects(
        self, subject: Subject, limit: int = 50, after: str | None = None
    ) -> list[ReportTotals]:
        """The subjects of a kind with their totals, by key, paged after `after`."""
        ...

    def report_contacts(
        self, subject: Subject, key: str, limit: int = 50, after: str | None = None
    ) -> list[ContactClicks]:
        """Per-contact clicks of one subject, by recipient key, paged after `after`."""
        ...

    def report_timeline(
        self, subject: Subject, key: str, since: float, until: float
    ) -> list[TimeBucket]: ...

    def reset_reports(self) -> ReportReset | None:
        """Empty the report tables, and say which events a rebuild must count; None when
        another transaction holds them too long (PostgreSQL: try again)."""
        ...

    def report_events(self, after: int, until: int, limit: int) -> list[ReportEvent]:
        """Processed clicks with `after < seq <= until`, by seq; a settlement running on one
        of them finishes first (PostgreSQL: FOR SHARE), so none is read half settled."""
        ...
