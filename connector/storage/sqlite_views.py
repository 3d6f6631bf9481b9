"""SQLite SQL for the dashboard's `ViewOps` (see view_records.py)."""

from __future__ import annotations

import sqlite3
from typing import Any

from connector.storage.view_records import DELIVERY_STATUSES, EventQuery, SourceView

# A verdict's flag and a matched rule, read from the JSON stored with the event (bytes in
# the column, hence the casts). Filtering walks `seq` newest first until a page is full.
_SUSPECTED = "COALESCE(json_extract(CAST(bot AS TEXT), '$.suspected'), 0) = ?"
# The decision is {"immediate": {...}, "settled": {...}}: a rule matched in either phase.
_RULE = (
    "EXISTS (SELECT 1 FROM json_each(CAST(decision AS TEXT)) AS phase,"
    " json_each(phase.value, '$.matched') AS m WHERE json_extract(m.value, '$.rule') = ?)"
)


class ViewSql:
    conn: sqlite3.Connection

    def event_page(self, query: EventQuery) -> list[dict[str, Any]]:
        from connector.storage.sqlite_tx import _EVENT_COLUMNS, _stored_event  # circular

        where, params = ["1 = 1"], []  # type: list[str], list[Any]
        for clause, value in (
            ("source = ?", query.source),
            ("type = ?", query.type),
            ("seq < ?", query.before),
            ("seq >= ?", query.floor),
            (_RULE, query.rule),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if query.suspected is not None:
            where.append(_SUSPECTED)
            params.append(int(query.suspected))
        rows = self.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT ?",
            (*params, query.limit),
        )
        return [_stored_event(row) for row in rows.fetchall()]

    def source_view(self, source: str, since: float) -> SourceView:
        last = self.conn.execute(
            "SELECT received_at FROM events WHERE source = ? ORDER BY seq DESC LIMIT 1", (source,)
        ).fetchone()
        accepted = self.conn.execute(
            "SELECT COUNT(*) FROM events WHERE source = ? AND seq >= ?",
            (source, self._first_seq_since(source, since)),
        ).fetchone()[0]
        rejected = self.conn.execute(
            "SELECT COUNT(*) FROM rejections WHERE source = ? AND received_at >= ?",
            (source, since),
        ).fetchone()[0]
        row = self.conn.execute(
            "SELECT received_at, reason FROM rejections WHERE source = ?"
            " ORDER BY received_at DESC LIMIT 1",
            (source,),
        ).fetchone()
        return SourceView(
            source=source,
            last_event_at=last[0] if last else None,
            accepted=accepted,
            rejected=rejected,
            last_rejected_at=row[0] if row else None,
            last_rejection=row[1] if row else None,
        )

    def delivery_counts(self, cap: int) -> dict[str, int]:
        count = "SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE status = ? LIMIT ?)"
        return {
            status: self.conn.execute(count, (status, cap + 1)).fetchone()[0]
            for status in DELIVERY_STATUSES
        }

    def event_seqs(self) -> tuple[int, int]:
        first, last = self.conn.execute(  # one MIN and one MAX: each a single key lookup
            "SELECT (SELECT MIN(seq) FROM events), (SELECT MAX(seq) FROM events)"
        ).fetchone()
        return int(first or 0), int(last or 0)

    def _first_seq_since(self, source: str, since: float) -> int:
        """The first seq of a source stored at or after `since`: seq follows arrival, so one
        walk down its (source, seq) index stops at the newest older event (no index on
        received_at: migration 0005)."""
        row = self.conn.execute(
            "SELECT seq FROM events WHERE source = ? AND received_at < ? ORDER BY seq DESC LIMIT 1",
            (source, since),
        ).fetchone()
        return int(row[0]) + 1 if row else 0
