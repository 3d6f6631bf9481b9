"""Version 1 of the SQLite schema: inbox, outbox, scenarios and bot evidence.

The statements are the store's schema constants as of this migration; every later change
is a new migration file. All are `IF NOT EXISTS`, so a database created before migrations
existed is adopted as it is.
"""

import sqlite3
from collections.abc import Iterator
from typing import Any

from yoyo import step

from connector.storage.sqlite import SCHEMA
from connector.storage.sqlite_bots import SQLITE_SCHEMA as BOT_SCHEMA
from connector.storage.sqlite_scenarios import SCENARIO_SCHEMA


def _statements(script: str) -> Iterator[str]:
    """One complete statement at a time (trigger bodies hold semicolons of their own)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""


def _apply(conn: Any) -> None:
    cursor = conn.cursor()
    for statement in _statements(SCHEMA + SCENARIO_SCHEMA + BOT_SCHEMA):
        cursor.execute(statement)


steps = [step(_apply)]
