"""When storage fails, the ESP is told to retry (503; 429 for Brevo) and readiness drops."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from connector.app import create_app
from connector.config import parse_settings
from connector.errors import StorageUnavailable
from connector.storage.sqlite import SqliteStore
from tests.support.fixtures import FIXTURES, cases, parse_time
from tests.support.signing import cio_headers


class BrokenStore(SqliteStore):
    """A real store whose transactions fail, as when the disk is full or the file is gone."""

    async def transaction(self, fn: Callable[[Any], Any]) -> Any:
        raise StorageUnavailable("database error: disk I/O error")

    async def ping(self) -> bool:
        return False


def _app(tmp_path: Path, sources: list[dict[str, Any]], clock: Any = None) -> TestClient:
    settings = parse_settings({"sources": sources}, env={})
    store = BrokenStore(tmp_path / "broken.db")
    return TestClient(create_app(settings, store=store, run_background=False, clock=clock))


def test_storage_failure_answers_503_and_not_ready(tmp_path: Path) -> None:
    """A signed webhook that cannot be stored gets 503, and /readyz reports not ready."""
    body = (FIXTURES / "customerio" / "click.raw").read_bytes()
    source = {"id": "cio", "provider": "customerio", "signing_keys": ["cio_test_signing_key"]}
    with _app(tmp_path, [source]) as client:
        response = client.post("/webhooks/cio", content=body, headers=cio_headers(body))
        ready = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "storage_unavailable"
    assert ready.status_code == 503


def test_brevo_gets_429_when_storage_fails(tmp_path: Path) -> None:
    """Brevo discards on 5xx, so the same failure is answered 429 for a Brevo source."""
    case = next(c for c in cases("brevo") if c.name == "click")
    source = {k: v for k, v in case.manifest["source"].items() if k != "allowed_ips"}
    received_at = parse_time(case.manifest["received_at"])
    with _app(tmp_path, [source], clock=lambda: received_at) as client:
        response = client.post(f"/webhooks/{source['id']}", content=case.body, headers=case.headers)
    assert response.status_code == 429
