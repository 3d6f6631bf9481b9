"""The report aggregates' SQL, shared by both backends (`sqlite_reports.py`,
`postgres_reports.py` only say how to run a statement and spell the placeholders).

Tables (migration 0003): `report_totals` (one row per subject and key), `report_contacts`
(one per subject, key and recipient), `report_hours` (one per subject, key and hour) and
`report_unsettled` (a click's immediate verdict until its settled one is counted). A click
costs three upserts per subject it counts under, all by primary key; a report page reads
one primary-key range. Nothing here scans the clicks. Keys and recipients go through
`stored_key` on the way in and out (a long one is cut and hashed to fit an index row).
"""

# ruff: noqa: S608 (only table names and backend function names are formatted into SQL)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.storage.report_records import (
    ContactClicks,
    CountedClick,
    ReportEvent,
    ReportReset,
    ReportTotals,
    Subject,
    TimeBucket,
    stored_key,
)

HOUR = 3600
REPORT_TABLES = ("report_contacts", "report_totals", "report_hours", "report_unsettled")
# connector/reports/recorder.py CLICK_TYPES (storage does not import the reports package)
_CLICKS = "'email.clicked', 'link.clicked'"
_TOTALS = (
    "subject, key, clicks, contacts, human_immediate, human_settled, suspected_immediate,"
    " suspected_settled, first_at, last_at"
)


@dataclass(frozen=True, slots=True)
class ReportStatements:
    contact: str
    totals: str
    hour: str
    unsettled: str
    settle_take: str
    settle_totals: str
    settle_contact: str
    settle_hour: str
    read_totals: str
    read_subjects: str
    read_contacts: str
    read_timeline: str
    read_events: str
    last_seq: str
    pending_seqs: str


def statements(mark: str, least: str, greatest: str) -> ReportStatements:
    """The statements with a backend's placeholder and two-argument min/max functions."""
    t, c, h = "report_totals", "report_contacts", "report_hours"
    sql = ReportStatements(
        contact=f"INSERT INTO {c} (subject, key, recipient, clicks, human_clicks, first_at,"
        " last_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subject, key, recipient)"
        f" DO UPDATE SET clicks = {c}.clicks + excluded.clicks,"
        f" human_clicks = {c}.human_clicks + excluded.human_clicks,"
        f" first_at = {least}({c}.first_at, excluded.first_at),"
        f" last_at = {greatest}({c}.last_at, excluded.last_at) RETURNING clicks",
        totals=f"INSERT INTO {t} ({_TOTALS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        f" ON CONFLICT (subject, key) DO UPDATE SET clicks = {t}.clicks + excluded.clicks,"
        f" contacts = {t}.contacts + excluded.contacts,"
        f" human_immediate = {t}.human_immediate + excluded.human_immediate,"
        f" human_settled = {t}.human_settled + excluded.human_settled,"
        f" suspected_immediate = {t}.suspected_immediate + excluded.suspected_immediate,"
        f" suspected_settled = {t}.suspected_settled + excluded.suspected_settled,"
        f" first_at = {least}({t}.first_at, excluded.first_at),"
        f" last_at = {greatest}({t}.last_at, excluded.last_at)",
        hour=f"INSERT INTO {h} (subject, key, start, clicks, human) VALUES (?, ?, ?, ?, ?)"
        f" ON CONFLICT (subject, key, start) DO UPDATE SET clicks = {h}.clicks + excluded.clicks,"
        f" human = {h}.human + excluded.human",
        unsettled="INSERT INTO report_unsettled (event_id, suspected, at) VALUES (?, ?, ?)"
        " ON CONFLICT (event_id) DO NOTHING",
        settle_take="DELETE FROM report_unsettled WHERE event_id = ? RETURNING suspected, at",
        settle_totals=f"UPDATE {t} SET human_settled = human_settled + ?,"
        " suspected_settled = suspected_settled + ? WHERE subject = ? AND key = ?",
        settle_contact=f"UPDATE {c} SET human_clicks = human_clicks + ?"
        " WHERE subject = ? AND key = ? AND recipient = ?",
        settle_hour=f"UPDATE {h} SET human = human + ? WHERE subject = ? AND key = ? AND start = ?",
        read_totals=f"SELECT {_TOTALS} FROM {t} WHERE subject = ? AND key = ?",
        read_subjects=f"SELECT {_TOTALS} FROM {t} WHERE subject = ? AND key > ?"
        " ORDER BY key LIMIT ?",
        read_contacts=f"SELECT recipient, clicks, human_clicks, first_at, last_at FROM {c}"
        " WHERE subject = ? AND key = ? AND recipient > ? ORDER BY recipient LIMIT ?",
        read_timeline=f"SELECT start, clicks, human FROM {h} WHERE subject = ? AND key = ?"
        " AND start >= ? AND start < ? ORDER BY start",
        read_events="SELECT seq, payload, received_at, bot, decision, settle_at, settled"
        f" FROM events WHERE seq > ? AND seq <= ? AND processed = 1 AND type IN ({_CLICKS})"
        " ORDER BY seq LIMIT ?",
        last_seq="SELECT COALESCE(MAX(seq), 0) FROM events",
        pending_seqs="SELECT seq FROM events WHERE processed = 0",
    )
    if mark == "?":
        return sql
    return ReportStatements(*(getattr(sql, f).replace("?", mark) for f in sql.__slots__))


class ReportSqlBase:
    """The `ReportOps` of `Tx`, over `_rows`, which each backend's mixin defines."""

    _SQL: ReportStatements
    _SHARE = ""  # what `report_events` adds to lock the rows it reads

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _many(self, sql: str, params: list[tuple[Any, ...]]) -> list[tuple[Any, ...] | None]:
        """Run `sql` once per parameter row, in order (PostgreSQL: one round trip); each
        run's first returned row, or None."""
        raise NotImplementedError

    def count_clicks(self, clicks: list[CountedClick]) -> None:
        """Added up per row first, then written contacts, totals, hours, each in key order:
        one upsert per row however many of the batch's clicks it counts, and the same lock
        order in every transaction (two PostgreSQL workers cannot deadlock on them)."""
        sql = self._SQL
        people: dict[tuple[Subject, str, str], list[Any]] = {}
        totals: dict[tuple[Subject, str], list[Any]] = {}
        hours: dict[tuple[Subject, str, int], list[int]] = {}
        for click in clicks:
            human = 0 if click.suspected else 1
            hour = int(click.at // HOUR * HOUR)
            recipient = None if click.recipient is None else stored_key(click.recipient)
            for subject, given in click.subjects:
                key = stored_key(given)
                row = totals.setdefault((subject, key), [0, 0, 0, 0, 0, 0, click.at, click.at])
                _add(row, 1, 0, human, human * click.final, 1 - human, (1 - human) * click.final)
                _span(row, click.at)
                if recipient is not None:
                    one = people.setdefault((subject, key, recipient), [0, 0, click.at, click.at])
                    _add(one, 1, human)
                    _span(one, click.at)
                _add(hours.setdefault((subject, key, hour), [0, 0]), 1, human)
        contacts = sorted(people.items())
        after = self._many(sql.contact, [(*where, *row) for where, row in contacts])
        for ((subject, key, _), (n, *_)), now in zip(contacts, after, strict=True):
            totals[(subject, key)][1] += int(now is not None and now[0] == n)  # a new contact
        self._many(sql.totals, [(*where, *row) for where, row in sorted(totals.items())])
        self._many(sql.hour, [(*where, *row) for where, row in sorted(hours.items())])
        pending = sorted((c for c in clicks if not c.final), key=lambda c: c.event_id)
        self._many(sql.unsettled, [(c.event_id, int(c.suspected), c.at) for c in pending])

    def count_settlements(self, clicks: list[CountedClick]) -> None:
        """The settled verdicts, added up per row and written in `count_clicks`' order."""
        sql = self._SQL
        people: dict[tuple[Subject, str, str], int] = {}
        totals: dict[tuple[Subject, str], list[int]] = {}
        hours: dict[tuple[Subject, str, int], int] = {}
        ordered = sorted(clicks, key=lambda c: c.event_id)
        taken = self._many(sql.settle_take, [(c.event_id,) for c in ordered])
        for click, was in zip(ordered, taken, strict=True):
            if was is None:
                continue
            human = 0 if click.suspected else 1
            delta = human - (1 - int(was[0]))
            hour = int(float(was[1]) // HOUR * HOUR)
            recipient = None if click.recipient is None else stored_key(click.recipient)
            for subject, given in click.subjects:
                key = stored_key(given)
                _add(totals.setdefault((subject, key), [0, 0]), human, 1 - human)
                if delta and recipient is not None:
                    where = (subject, key, recipient)
                    people[where] = people.get(where, 0) + delta
                if delta:
                    hours[(subject, key, hour)] = hours.get((subject, key, hour), 0) + delta
        self._many(sql.settle_contact, [(n, *at) for at, n in sorted(people.items()) if n])
        self._many(sql.settle_totals, [(*n, *at) for at, n in sorted(totals.items())])
        self._many(sql.settle_hour, [(n, *at) for at, n in sorted(hours.items()) if n])

    def report_totals(self, subject: Subject, key: str) -> ReportTotals | None:
        rows = self._rows(self._SQL.read_totals, (subject, stored_key(key)))
        return _totals(rows[0]) if rows else None

    def report_subjects(
        self, subject: Subject, limit: int = 50, after: str | None = None
    ) -> list[ReportTotals]:
        rows = self._rows(self._SQL.read_subjects, (subject, after or "", limit))
        return [_totals(row) for row in rows]

    def report_contacts(
        self, subject: Subject, key: str, limit: int = 50, after: str | None = None
    ) -> list[ContactClicks]:
        rows = self._rows(self._SQL.read_contacts, (subject, stored_key(key), after or "", limit))
        return [ContactClicks(r[0], r[1], r[2], float(r[3]), float(r[4])) for r in rows]

    def report_timeline(
        self, subject: Subject, key: str, since: float, until: float
    ) -> list[TimeBucket]:
        first = int(since // HOUR * HOUR)
        rows = self._rows(self._SQL.read_timeline, (subject, stored_key(key), first, until))
        return [TimeBucket(float(r[0]), r[1], r[2]) for r in rows]

    def report_events(self, after: int, until: int, limit: int) -> list[ReportEvent]:
        rows = self._rows(self._SQL.read_events + self._SHARE, (after, until, limit))
        return [
            ReportEvent(r[0], bytes(r[1]), float(r[2]), _bytes(r[3]), r[4], r[5], bool(r[6]))
            for r in rows
        ]

    def _reset(self) -> ReportReset:
        """What `reset_reports` answers once the tables are empty and writes are held."""
        last = int(self._rows(self._SQL.last_seq, ())[0][0])
        pending = frozenset(int(r[0]) for r in self._rows(self._SQL.pending_seqs, ()))
        return ReportReset(last, pending)


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _add(row: list[Any], *amounts: int) -> None:
    for index, amount in enumerate(amounts):
        row[index] += amount


def _span(row: list[Any], at: float) -> None:
    """Widen the (first, last) pair at the end of `row` to include `at`."""
    row[-2], row[-1] = min(row[-2], at), max(row[-1], at)


def _totals(row: tuple[Any, ...]) -> ReportTotals:
    return ReportTotals(*row)
