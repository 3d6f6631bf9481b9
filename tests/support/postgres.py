"""A throw-away PostgreSQL server for tests, and a fresh database per test.

`running_server()` starts a cluster with `scripts/postgres` in a temporary directory on a
free port of 127.0.0.1 (or uses `CONNECTOR_TEST_PG_URL` when set) and stops it afterwards.
`fresh_database(url)` creates `test_<n>` on that server and drops it after the test, so no
test sees another's rows. Missing server binaries that cannot be installed FAIL the tests:
CI must run the PostgreSQL suite, never skip it silently.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres"
URL_VARIABLE = "CONNECTOR_TEST_PG_URL"
_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database (`postgres`)."""
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield given
        return
    # not under pytest's tmp_path: its parents are private to root, and the server runs
    # as the `postgres` user
    directory = tempfile.mkdtemp(prefix="connector-pg-")
    try:
        started = subprocess.run(
            [str(SCRIPT), "start", directory, str(free_port())],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if started.returncode != 0:
            pytest.fail(
                "cannot start a PostgreSQL server for the storage tests (scripts/postgres"
                f" start failed, exit {started.returncode}): {started.stderr.strip()[-2000:]}"
                f"\nInstall Debian's `postgresql` package or set {URL_VARIABLE}.",
                pytrace=False,
            )
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(SCRIPT), "stop", directory], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    name = f"test_{os.getpid()}_{next(_numbers)}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
