"""The report aggregates on PostgreSQL: the shared statements (`report_sql.py`) with `%s`
placeholders and LEAST/GREATEST. Concurrent workers upserting the same subject wait on its
row lock for the rest of their transaction, so counts never lose an update.

A rebuild (`reset_reports`) must empty the tables at a moment when no click is half
counted and no event half stored: it locks the report tables (waiting for the workers'
transactions that counted into them; later ones wait for it), then the inbox against writes
(waiting for ingests in flight, whose ids could be below the highest one committed), for the
few milliseconds it takes to empty the tables and list the unprocessed events. Workers touch
the report tables before they update `events`, so this order meets theirs; a settlement
locks `report_unsettled` first, and against it the short `lock_timeout` (under the 1 s
`deadlock_timeout`) makes the rebuild the one that gives way, to try again.
"""

from __future__ import annotations

from typing import Any

import psycopg

from connector.storage.report_records import ReportReset
from connector.storage.report_sql import REPORT_TABLES, ReportSqlBase, statements

_TABLES = ", ".join(REPORT_TABLES)


class PgReportSql(ReportSqlBase):
    """Mixed into `PgTx`: the report operations of the `Tx` protocol."""

    conn: psycopg.Connection[Any]
    cur: psycopg.Cursor[Any]
    _SQL = statements("%s", "LEAST", "GREATEST")
    _SHARE = " FOR SHARE"

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        self.cur.execute(sql, params)
        return self.cur.fetchall() if self.cur.description else []

    def _many(self, sql: str, params: list[tuple[Any, ...]]) -> list[tuple[Any, ...] | None]:
        """One pipelined round trip for the whole batch (psycopg's executemany)."""
        if not params:
            return []
        returning = " RETURNING " in sql
        self.cur.executemany(sql, params, returning=returning)
        if not returning:
            return [None] * len(params)
        rows: list[tuple[Any, ...] | None] = []
        while True:
            rows.append(self.cur.fetchone())
            if not self.cur.nextset():
                return rows

    def reset_reports(self) -> ReportReset | None:
        try:
            with self.conn.transaction():  # a savepoint: a refused lock leaves nothing held
                self.cur.execute("SET LOCAL lock_timeout = '200ms'")
                self.cur.execute(f"LOCK TABLE {_TABLES} IN ACCESS EXCLUSIVE MODE")
                self.cur.execute("LOCK TABLE events IN SHARE MODE")
        except psycopg.errors.LockNotAvailable:
            return None
        self.cur.execute(f"TRUNCATE {_TABLES}")
        return self._reset()
