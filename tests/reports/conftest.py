"""The storage contract's fixtures (`store` on each backend, a throw-away PostgreSQL), so
report tests run on SQLite and PostgreSQL alike."""

from tests.storage.conftest import pg_server, pg_url, store

__all__ = ["pg_server", "pg_url", "store"]
