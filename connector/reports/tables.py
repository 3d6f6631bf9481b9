"""Reports as rows of text: the columns the CSV export and `connector report` share, so the
terminal table and the spreadsheet say the same thing in the same order."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import get_args

from connector.storage.report_records import ContactClicks, ReportTotals, Subject, TimeBucket
from providers.canonical import canonical_url

SUBJECTS: tuple[str, ...] = get_args(Subject)
TOTALS_COLUMNS = (
    "subject",
    "key",
    "clicks",
    "contacts",
    "human_immediate",
    "suspected_immediate",
    "human_settled",
    "suspected_settled",
    "first_at",
    "last_at",
)
CONTACT_COLUMNS = ("recipient", "clicks", "human_clicks", "first_at", "last_at")
TIMELINE_COLUMNS = ("hour", "clicks", "human")
Row = Sequence[str | int]
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def keys_to_try(subject: str, key: str) -> list[str]:
    """`key` as given, then, for a link, its canonical form: a URL pasted as it was sent
    (`HTTPS://Shop.example/sale?utm_source=x`) finds the report of the link it counts as."""
    canonical = canonical_url(key) if subject == "link" else None
    return [key] if canonical in (None, key) else [key, canonical]


def iso(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def totals_row(t: ReportTotals) -> Row:
    return (
        t.subject,
        t.key,
        t.clicks,
        t.contacts,
        t.human_immediate,
        t.suspected_immediate,
        t.human_settled,
        t.suspected_settled,
        iso(t.first_at),
        iso(t.last_at),
    )


def contact_row(c: ContactClicks) -> Row:
    return (c.recipient, c.clicks, c.human_clicks, iso(c.first_at), iso(c.last_at))


def bucket_row(b: TimeBucket) -> Row:
    return (iso(b.start), b.clicks, b.human)


def csv_text(columns: Sequence[str], rows: Iterable[Row], *, header: bool = True) -> str:
    """RFC 4180 text; a cell a spreadsheet would run as a formula gets a leading quote."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    writer.writerows([_safe(cell) for cell in row] for row in rows)
    return out.getvalue()


def _safe(cell: str | int) -> str | int:
    # recipients and URLs come from outside: "=cmd()" must stay text (CSV injection)
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def csv_filename(subject: str, key: str = "", view: str = "") -> str:
    """`campaign-77-contacts.csv`: names that tell downloads apart, in plain ASCII (a key is
    a URL or an ESP's id: anything else becomes `_`, and a long one is cut)."""
    parts = [subject, _FILENAME_UNSAFE.sub("_", key).strip("_.")[:80], view]
    return "-".join(part for part in parts if part) + ".csv"


def printable(text: str) -> str:
    """`text` with control and format characters shown as escapes (`\\x1b`), so a key or a
    recipient from outside cannot move the cursor, recolour or reorder a terminal."""
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in ("Cc", "Cf") else char for char in text
    )


def text_table(columns: Sequence[str], rows: Iterable[Row]) -> str:
    """A plain aligned table for a terminal: numbers right-aligned, text left, aligned by
    the columns a cell takes on screen (a CJK character or an emoji takes two)."""
    cells = [list(columns)] + [[printable(str(cell)) for cell in row] for row in rows]
    widths = [max(screen_width(row[i]) for row in cells) for i in range(len(columns))]
    numeric = [
        all(r[i].isdigit() for r in cells[1:]) and len(cells) > 1 for i in range(len(columns))
    ]
    lines = ["  ".join(map(_pad, row, widths, numeric)).rstrip() for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def screen_width(text: str) -> int:
    """Terminal columns of `text`: wide and full-width characters take two, combining
    marks none (`printable` has already made control and format characters visible)."""
    if text.isascii():
        return len(text)
    return sum(
        0
        if unicodedata.combining(char)
        else 2
        if unicodedata.east_asian_width(char) in ("W", "F")
        else 1
        for char in text
    )


def _pad(cell: str, width: int, right: bool) -> str:
    gap = " " * (width - screen_width(cell))
    return gap + cell if right else cell + gap
