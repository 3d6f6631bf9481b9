"""The report aggregates on SQLite: the shared statements (`report_sql.py`) run on the
transaction's connection. RETURNING needs SQLite 3.35 or newer."""

from __future__ import annotations

import sqlite3
from typing import Any

from connector.storage.report_records import ReportReset
from connector.storage.report_sql import REPORT_TABLES, ReportSqlBase, statements


class ReportSql(ReportSqlBase):
    """Mixed into `SqliteTx`: the report operations of the `Tx` protocol."""

    conn: sqlite3.Connection
    _SQL = statements("?", "min", "max")

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def _many(self, sql: str, params: list[tuple[Any, ...]]) -> list[tuple[Any, ...] | None]:
        # in-process: a statement per row costs microseconds, and RETURNING needs execute
        return [self.conn.execute(sql, row).fetchone() for row in params]

    def reset_reports(self) -> ReportReset:
        """Nothing else writes during a SQLite write transaction: no one to wait for."""
        for table in REPORT_TABLES:
            self.conn.execute(f"DELETE FROM {table}")
        return self._reset()
