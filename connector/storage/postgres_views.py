"""PostgreSQL SQL for the dashboard's `ViewOps` (see view_records.py)."""

from __future__ import annotations

from typing import Any

import psycopg

from connector.storage.view_records import DELIVERY_STATUSES, EventQuery, SourceView

# The verdict and the decision are JSON stored as bytes / text (kept as written, see
# migration 0001); filtering walks `seq` newest first until a page is full.
_SUSPECTED = "COALESCE((convert_from(bot, 'UTF8')::jsonb ->> 'suspected')::boolean, FALSE) = %s"
# The decision is {"immediate": {...}, "settled": {...}}: a rule matched in either phase.
_RULE = (
    "jsonb_path_exists(decision::jsonb, '$.*.matched[*] ? (@.rule == $r)',"
    " jsonb_build_object('r', %s::text))"
)


class PgViewSql:
    cur: psycopg.Cursor[Any]

    def event_page(self, query: EventQuery) -> list[dict[str, Any]]:
        from connector.storage.postgres_tx import _EVENT_COLUMNS, _stored_event  # circular

        where, params = ["TRUE"], []  # type: list[str], list[Any]
        for clause, value in (
            ("source = %s", query.source),
            ("type = %s", query.type),
            ("seq < %s", query.before),
            ("seq >= %s", query.floor),
            (_RULE, query.rule),
            (_SUSPECTED, query.suspected),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.cur.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)}"
            " ORDER BY seq DESC LIMIT %s",
            (*params, query.limit),
        )
        return [_stored_event(row) for row in rows.fetchall()]

    def source_view(self, source: str, since: float) -> SourceView:
        last = self._one(
            "SELECT received_at FROM events WHERE source = %s ORDER BY seq DESC LIMIT 1", (source,)
        )
        older = self._one(  # seq follows arrival: the source's newest event before `since`
            "SELECT seq FROM events WHERE source = %s AND received_at < %s"
            " ORDER BY seq DESC LIMIT 1",
            (source, since),
        )
        accepted = self._one(
            "SELECT COUNT(*) FROM events WHERE source = %s AND seq > %s",
            (source, 0 if older is None else older),
        )
        rejected = self._one(
            "SELECT COUNT(*) FROM rejections WHERE source = %s AND received_at >= %s",
            (source, since),
        )
        row = self.cur.execute(
            "SELECT received_at, reason FROM rejections WHERE source = %s"
            " ORDER BY received_at DESC LIMIT 1",
            (source,),
        ).fetchone()
        return SourceView(
            source=source,
            last_event_at=last,
            accepted=accepted,
            rejected=rejected,
            last_rejected_at=row[0] if row else None,
            last_rejection=row[1] if row else None,
        )

    def delivery_counts(self, cap: int) -> dict[str, int]:
        count = "SELECT COUNT(*) FROM (SELECT 1 FROM deliveries WHERE status = %s LIMIT %s) s"
        return {status: int(self._one(count, (status, cap + 1))) for status in DELIVERY_STATUSES}

    def event_seqs(self) -> tuple[int, int]:
        first = self._one("SELECT seq FROM events ORDER BY seq LIMIT 1", ())
        last = self._one("SELECT seq FROM events ORDER BY seq DESC LIMIT 1", ())
        return int(first or 0), int(last or 0)

    def _one(self, sql: str, params: tuple[Any, ...]) -> Any:
        row = self.cur.execute(sql, params).fetchone()
        return row[0] if row else None
