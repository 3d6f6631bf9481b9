"""Schema migrations for both backends, run by yoyo-migrations (a schema version table and
ordered migrations in `migrations/<backend>/`), at start-up and by `connector migrate`.

Every process that opens a store migrates it first; yoyo's lock table makes concurrent
starts (a web process and its worker, several replicas) take turns, and a migration that
is applied already is skipped. A database that has a migration this code does not know was
migrated by a newer release: we refuse to run against it rather than guess.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from connector.errors import StorageUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The oldest SQLite the schema and its statements run on: RETURNING, ALTER TABLE ... DROP
# COLUMN (0006) and UPDATE ... FROM (the delivery record) need 3.35.
MIN_SQLITE = (3, 35, 0)


class NewerSchema(StorageUnavailable):
    """The database was migrated by a newer release of the connector."""

    reason = "newer_schema"


@dataclass(frozen=True, slots=True)
class MigrationReport:
    applied: list[str]  # migrations applied now, in order
    current: list[str]  # every migration the database has, in order


def migrations_for(backend: str) -> MigrationList:
    return read_migrations(str(MIGRATIONS / backend))


def migrate(backend: str, url: str, *, apply: bool = True) -> MigrationReport:
    """Bring the database at `url` (a yoyo URL) up to date; `apply=False` only reports.

    Raises `NewerSchema` when the database has migrations this code does not know.
    """
    if backend == "sqlite":
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageUnavailable(
                f"SQLite {sqlite3.sqlite_version} is too old: the connector needs"
                f" {'.'.join(map(str, MIN_SQLITE))} or newer (Python's sqlite3 module links it)"
            )
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        database = get_backend(url)
    except Exception as error:  # the driver's own error may hold the URL: name only its kind
        raise StorageUnavailable(f"cannot open the database ({type(error).__name__})") from None
    known = migrations_for(backend)
    try:
        with database.lock():
            applied_hashes = set(database.get_applied_migration_hashes())
            unknown = applied_hashes - {migration.hash for migration in known}
            if unknown:
                raise NewerSchema(
                    f"the database has {len(unknown)} migration(s) this version does not know:"
                    " it was migrated by a newer release; run that release (or newer)"
                )
            pending = database.to_apply(known)
            if apply and pending:
                database.apply_migrations(pending)
    finally:
        database.connection.close()
    done = [m.id for m in known if m.hash in applied_hashes]
    now = [m.id for m in pending] if apply else []
    return MigrationReport(applied=now, current=done + now)
