"""End to end: a signed Customer.io click through the real app, a real SQLite file and a real
downstream HTTP server on 127.0.0.1."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.config import WEBHOOK_SECRET, settings_for, write_config
from tests.support.fixtures import FIXTURES
from tests.support.servers import ServiceProcess, downstream, free_port, service_in_thread
from tests.support.signing import cio_headers

pytestmark = pytest.mark.e2e
CLICK = (FIXTURES / "customerio" / "click.raw").read_bytes()


def _post(base: str, body: bytes, headers: dict[str, str], source: str = "cio") -> httpx.Response:
    return httpx.post(f"{base}/webhooks/{source}", content=body, headers=headers, timeout=10)


def _delivery_rows(db: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT action_id, status, attempts FROM deliveries").fetchall()


def _wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)


def test_signed_click_arrives_downstream_normalised_and_signed(tmp_path: Path) -> None:
    """A signed click is answered 200 and POSTed downstream as a signed email.clicked event."""
    with downstream() as app, service_in_thread(settings_for(tmp_path, app.url)) as base:
        response = _post(base, CLICK, cio_headers(CLICK))
        assert response.status_code == 200
        assert response.json()["accepted"] == 1
        received = app.wait_for(1)
    assert len(received) == 1
    event = received[0].json()
    assert event["type"] == "email.clicked"
    assert event["provider"] == "customerio"
    assert event["source"] == "cio"
    assert event["link"]["url"] == "https://shop.example.org/spring?utm_source=cio"
    assert event["recipient"]["email"] == "dana@example.org"
    assert event["bot"]["phase"] in {"immediate", "settled"}
    headers = received[0].headers
    Webhook(WEBHOOK_SECRET).verify(received[0].body, headers)  # raises if the signature is bad
    assert headers["webhook-id"].startswith("dlv_")


def test_duplicate_webhook_is_delivered_once(tmp_path: Path) -> None:
    """The same event posted twice is acknowledged twice and delivered exactly once."""
    with downstream() as app, service_in_thread(settings_for(tmp_path, app.url)) as base:
        first = _post(base, CLICK, cio_headers(CLICK))
        second = _post(base, CLICK, cio_headers(CLICK))
        app.wait_for(1)
        time.sleep(0.5)  # give a wrong second delivery the chance to show up
        received = list(app.received)
    assert first.json()["accepted"] == 1
    assert second.status_code == 200
    assert second.json()["duplicates"] == 1
    assert len(received) == 1


def test_downstream_failing_twice_gets_exactly_three_attempts(tmp_path: Path) -> None:
    """500, 500 then 200: three attempts, and the delivery ends up marked delivered."""
    with (
        downstream(statuses=[500, 500]) as app,
        service_in_thread(settings_for(tmp_path, app.url)) as base,
    ):
        assert _post(base, CLICK, cio_headers(CLICK)).status_code == 200
        app.wait_for(3)
        _wait_until(
            lambda: _delivery_rows(tmp_path / "connector.db") == [("downstream", "delivered", 3)]
        )
        time.sleep(0.3)
        attempts = len(app.received)
    assert attempts == 3
    assert _delivery_rows(tmp_path / "connector.db") == [("downstream", "delivered", 3)]
    assert len({r.headers["webhook-id"] for r in app.received}) == 1


def test_kill_9_after_ack_still_delivers_after_restart(tmp_path: Path) -> None:
    """kill -9 right after the 2xx, before delivery; after a restart the event is delivered."""
    downstream_port = free_port()
    config = write_config(tmp_path, f"http://127.0.0.1:{downstream_port}/hook")
    service = ServiceProcess(config, free_port()).start()
    try:
        response = _post(service.url, CLICK, cio_headers(CLICK))
        assert response.status_code == 200
        service.kill9()  # downstream is not even listening yet: nothing can have been delivered
        with downstream(port=downstream_port) as app:
            service.start()
            received = app.wait_for(1, timeout=20)
    finally:
        service.terminate()
    assert len(received) == 1
    assert received[0].json()["provider_event_id"] == "01HZX3K9Q4V6B8N2M7R5T1W0YA"


@pytest.mark.parametrize(
    ("mutate", "status", "reason"),
    [
        (lambda body, headers: (body.replace(b"dana", b"eve!"), headers), 401, "signature"),
        (lambda body, headers: (body, {"content-type": "application/json"}), 401, "signature"),
        (lambda body, headers: (body, {**headers, "x-cio-timestamp": "1"}), 401, "signature"),
        (lambda body, headers: (b"{not json", cio_headers(b"{not json")), 400, "malformed"),
    ],
    ids=["tampered", "unsigned", "stale", "malformed"],
)
def test_bad_requests_get_clear_errors_and_store_nothing(
    tmp_path: Path, mutate: object, status: int, reason: str
) -> None:
    """Bad input is refused with the right status, a reason, and leaves no event stored."""
    with downstream() as app, service_in_thread(settings_for(tmp_path, app.url)) as base:
        body, headers = mutate(CLICK, cio_headers(CLICK))  # type: ignore[operator]
        response = _post(base, body, headers)
    assert response.status_code == status
    assert response.json()["error"].startswith(reason)
    with sqlite3.connect(tmp_path / "connector.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)


def test_unknown_source_and_oversized_body(tmp_path: Path) -> None:
    """Unknown sources get 404 and bodies over the limit get 413."""
    extra = ""
    with (
        downstream() as app,
        service_in_thread(settings_for(tmp_path, app.url, extra=extra)) as base,
    ):
        unknown = _post(base, CLICK, cio_headers(CLICK), source="nope")
        huge = b"{" + b" " * (1024 * 1024 + 10) + b"}"
        too_large = _post(base, huge, cio_headers(huge))
    assert unknown.status_code == 404
    assert too_large.status_code == 413


def test_operations_endpoints(tmp_path: Path) -> None:
    """Health, readiness, metrics and the served JSON Schema all answer."""
    with downstream() as app, service_in_thread(settings_for(tmp_path, app.url)) as base:
        _post(base, CLICK, cio_headers(CLICK))
        app.wait_for(1)
        health = httpx.get(f"{base}/healthz")
        ready = httpx.get(f"{base}/readyz")
        metrics = httpx.get(f"{base}/metrics")
        schema = httpx.get(f"{base}/schemas/email.clicked.json")
        missing = httpx.get(f"{base}/schemas/nope.json")
    assert health.status_code == ready.status_code == 200
    assert ready.json()["database"] is True
    assert "connector_webhooks_total" in metrics.text
    assert "connector_ack_latency_seconds_bucket" in metrics.text
    assert schema.json()["properties"]["type"]["const"] == "email.clicked"
    assert missing.status_code == 404
