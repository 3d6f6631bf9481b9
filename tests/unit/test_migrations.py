"""Schema migrations: a new database gets every migration, an old one is adopted, a newer
one is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connector.errors import StorageUnavailable
from connector.storage.migrate import migrate, migrations_for
from connector.storage.sqlite import SqliteStore


def test_a_new_database_is_migrated_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = migrate("sqlite", url)
    again = migrate("sqlite", url)
    assert first.applied == [m.id for m in migrations_for("sqlite")]
    assert again.applied == [] and again.current == first.current


def test_a_database_from_before_migrations_is_adopted(tmp_path: Path) -> None:
    """Tables made by the old start-up script stay, with their rows."""
    from connector.storage.sqlite import SCHEMA

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT INTO events (id, type, source, provider, occurred_at, received_at, payload,"
            " raw) VALUES ('kept', 'email.clicked', 's', 'p', 1, 1, x'7b7d', x'7b7d')"
        )
    store = SqliteStore(path)
    store.open_sync()
    store.close_sync()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT id FROM events").fetchall() == [("kept",)]
        assert conn.execute("SELECT COUNT(*) FROM timers").fetchone() == (0,)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """A migration this code does not know means a newer release migrated the database."""
    path = tmp_path / "new.db"
    migrate("sqlite", f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc)"
            " VALUES ('f' || hex(randomblob(31)), '9999.future', '2030-01-01')"
        )
    store = SqliteStore(path)
    with pytest.raises(StorageUnavailable, match="newer release"):
        store.open_sync()


def test_an_old_sqlite_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python linked to an SQLite without RETURNING / DROP COLUMN / UPDATE ... FROM gets a
    clear error before anything is created, not a syntax error halfway through migrating."""
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with pytest.raises(StorageUnavailable, match=r"SQLite 3\.31\.1 is too old.*3\.35\.0"):
        migrate("sqlite", f"sqlite:///{tmp_path / 'sub' / 'm.db'}")
    assert not (tmp_path / "sub").exists()
