"""The report aggregates on PostgreSQL: the shared statements (`report_sql.py`) with `%s`
placeholders and LEAST/GREATEST. Concurrent workers upserting the same subject wait on its
row lock for the rest of their transaction, so counts never lose an update."""

from __future__ import annotations

from typing import Any

import psycopg

from connector.storage.report_sql import ReportSqlBase, statements


class PgReportSql(ReportSqlBase):
    """Mixed into `PgTx`: the report operations of the `Tx` protocol."""

    cur: psycopg.Cursor[Any]
    _SQL = statements("%s", "LEAST", "GREATEST")

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
