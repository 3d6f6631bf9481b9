"""Mixed into `SqliteTx`: the trigger-link operations (`LinkOps`) on SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from connector.storage.link_records import TriggerLink

COLUMNS = (
    "slug, name, destination, link_values, enabled, fallback_url, origin, config_digest,"
    " created_at, updated_at"
)


def link_row(link: TriggerLink) -> tuple[Any, ...]:
    """The row of a link, in `COLUMNS` order (both backends store the same columns)."""
    return (
        link.slug,
        link.name,
        link.destination,
        orjson.dumps(link.values, option=orjson.OPT_SORT_KEYS).decode(),
        int(link.enabled),
        link.fallback_url,
        link.origin,
        link.config_digest,
        link.created_at,
        link.updated_at,
    )


def link_from_row(row: Any) -> TriggerLink:
    return TriggerLink(
        slug=row[0],
        name=row[1],
        destination=row[2],
        values=orjson.loads(row[3]),
        enabled=bool(row[4]),
        fallback_url=row[5],
        origin=row[6],
        config_digest=row[7],
        created_at=row[8],
        updated_at=row[9],
    )


class LinkSql:
    """The `LinkOps` of the `Tx` protocol."""

    conn: sqlite3.Connection

    def save_link(self, link: TriggerLink) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO links ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            link_row(link),
        )

    def link(self, slug: str) -> TriggerLink | None:
        row = self.conn.execute(f"SELECT {COLUMNS} FROM links WHERE slug = ?", (slug,)).fetchone()
        return None if row is None else link_from_row(row)

    def links(self, limit: int = 1000, after: str = "") -> list[TriggerLink]:
        rows = self.conn.execute(
            f"SELECT {COLUMNS} FROM links WHERE slug > ? ORDER BY slug LIMIT ?", (after, limit)
        ).fetchall()
        return [link_from_row(row) for row in rows]
