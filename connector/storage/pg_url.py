"""The forms of a `postgresql://` storage URL each consumer needs."""

from __future__ import annotations


def pg_conninfo(url: str) -> str:
    """For psycopg: libpq takes postgresql:// and postgres:// URLs as they are."""
    return url


def yoyo_url(url: str) -> str:
    """For yoyo-migrations, which picks its driver from the scheme: psycopg 3."""
    rest = url.split("://", 1)[1]
    return f"postgresql+psycopg://{rest}"
