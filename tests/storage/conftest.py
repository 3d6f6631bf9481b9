"""Fixtures for the storage contract: one `store` per backend, each on an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.storage.postgres import PgStore
from connector.storage.sqlite import SqliteStore
from tests.support.postgres import fresh_database, running_server

Store = SqliteStore | PgStore


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One throw-away PostgreSQL server for the whole run (started only if a test asks)."""
    with running_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """An empty database of its own for each test."""
    with fresh_database(pg_server) as url:
        yield url


def make_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if backend == "sqlite":
        return SqliteStore(tmp_path / "contract.db", bot_ttl_seconds=100)
    return PgStore(request.getfixturevalue("pg_url"), bot_ttl_seconds=100)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An open store of each backend on an empty database."""
    opened = make_store(request.param, request, tmp_path)
    opened.open_sync()
    yield opened
    opened.close_sync()
