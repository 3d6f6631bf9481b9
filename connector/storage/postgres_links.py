"""Mixed into `PgTx`: the trigger-link operations (`LinkOps`) on PostgreSQL."""

from __future__ import annotations

from typing import Any

import psycopg

from connector.storage.link_records import TriggerLink
from connector.storage.sqlite_links import COLUMNS, link_from_row, link_row


class PgLinkSql:
    """The `LinkOps` of the `Tx` protocol (same columns and rows as SQLite's)."""

    cur: psycopg.Cursor[Any]

    def save_link(self, link: TriggerLink) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:])
        self.cur.execute(
            f"INSERT INTO links ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            f" ON CONFLICT (slug) DO UPDATE SET {updates}",
            link_row(link),
        )

    def link(self, slug: str) -> TriggerLink | None:
        row = self.cur.execute(f"SELECT {COLUMNS} FROM links WHERE slug = %s", (slug,)).fetchone()
        return None if row is None else link_from_row(row)

    def links(self, limit: int = 1000, after: str = "") -> list[TriggerLink]:
        rows = self.cur.execute(
            f"SELECT {COLUMNS} FROM links WHERE slug > %s ORDER BY slug LIMIT %s", (after, limit)
        ).fetchall()
        return [link_from_row(row) for row in rows]
