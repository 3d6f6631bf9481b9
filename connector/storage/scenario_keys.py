"""The scenario tables' keys as stored: a message id, campaign id, recipient or re-entry key
over 256 characters is kept as its start and a hash of the whole (`bounded`, the helper the
bot evidence keys use), on both backends.

An ESP's ids can run to kilobytes, and PostgreSQL's index rows hold at most 2,704 bytes:
`recipients_pkey` holds three such keys. Every write (the records bound themselves) and
every lookup (the backends bound what they are given) goes through `scenario_key`, so a
lookup by the id as the ESP sent it finds its rows; bounding a bounded key changes nothing,
so a key read back finds its rows again. Migration 0013 bounds keys stored before.
"""

from __future__ import annotations

from typing import Any, Protocol

from connector.bots.keys import MAX_KEY, bounded

__all__ = ["KEY_COLUMNS", "MAX_KEY", "bound_stored_keys", "scenario_key"]
scenario_key = bounded

# The key columns of each scenario table (what migration 0013 bounds).
KEY_COLUMNS = {
    "recipients": ("campaign_id", "message_id", "recipient"),
    "clicks": ("recipient", "message_id", "campaign_id"),
    "timers": ("send_id", "recipient"),
    "entries": ("key",),
}


class _Connection(Protocol):
    def cursor(self) -> Any: ...


def bound_stored_keys(connection: _Connection, mark: str) -> int:
    """Bound every key stored longer than `MAX_KEY` (placeholders `mark`); how many changed."""
    cursor = connection.cursor()
    changed = 0
    for table, columns in KEY_COLUMNS.items():
        for column in columns:
            cursor.execute(
                f"SELECT DISTINCT {column} FROM {table} WHERE length({column}) > {MAX_KEY}"  # noqa: S608
            )
            for (value,) in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {table} SET {column} = {mark} WHERE {column} = {mark}",  # noqa: S608
                    (scenario_key(value), value),
                )
                changed += cursor.rowcount
    return changed
