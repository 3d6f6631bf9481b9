"""`POST /webhooks/{source_id}` skips Starlette's layers; every other request still takes them.

Every way a webhook can end goes through the endpoint's one mapping: refusals (with the
challenge basic auth needs), crashes in a provider's verify (JSON 500, logged with its stack,
counted), clients that hang up mid-body (counted, logged, unanswered), nothing half-stored.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from connector.app import _webhook_source, create_app
from connector.config import parse_settings
from connector.settings import Settings
from providers import brevo, customerio
from providers.base import Source
from providers.signing import basic_authorization
from tests.support.fixtures import cases, parse_time
from tests.support.servers import free_port, wait_healthy

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> Settings:
    return parse_settings(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'route.db'}"},
            "sources": [
                {"id": "cio", "provider": "customerio", "signing_keys": ["k"]},
                {"id": "brevo", "provider": "brevo", "bearer_tokens": ["brevo-token"]},
            ],
        },
        {},
    )


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path), run_background=False)) as test_client:
        yield test_client


def _stored(tmp_path: Path) -> dict[str, int]:
    """Rows a webhook can write, per table: all must stay put when a request fails."""
    with sqlite3.connect(tmp_path / "route.db") as conn:
        tables = ("events", "rejections", "tasks", "nonces")
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}


CIO_BODY = (ROOT / "fixtures/customerio/click.raw").read_bytes()


def _cio_headers() -> dict[str, str]:
    source = Source(id="cio", provider="customerio", signing_keys=("k",))
    return customerio.sign(CIO_BODY, source, datetime.now(UTC))


def test_the_fast_path_answers_like_the_route_did(client: TestClient) -> None:
    """Refusals on the fast path are JSON with a request id, as the routed endpoint's were."""
    unsigned = client.post("/webhooks/cio", content=b"{}")
    assert unsigned.status_code == 401 and unsigned.json()["ok"] is False
    assert unsigned.headers["x-request-id"]
    unknown = client.post("/webhooks/nope", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["ok"] is False


def test_a_signed_sample_is_stored_through_the_fast_path(client: TestClient) -> None:
    """A signed click is stored once and acknowledged as a duplicate the second time."""
    body = (ROOT / "fixtures/customerio/click.raw").read_bytes()
    source = Source(id="cio", provider="customerio", signing_keys=("k",))
    headers = customerio.sign(body, source, datetime.now(UTC))
    answer = client.post("/webhooks/cio", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    again = client.post("/webhooks/cio", content=body, headers=headers)
    assert again.json()["duplicates"] == 1


def test_other_requests_still_take_the_router(client: TestClient) -> None:
    """Probes, nested paths, other methods and other routes still go through Starlette."""
    assert client.get("/webhooks/cio").json() == {"ok": True}  # the probe route
    assert client.post("/webhooks/cio/extra", content=b"{}").status_code == 404
    assert client.put("/webhooks/cio", content=b"{}").status_code == 405
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/webhooks/cio", "", "cio"),
        ("/base/webhooks/cio", "/base", "cio"),
        ("/webhooks/", "", None),
        ("/webhooks/a/b", "", None),
        ("/webhooksx/a", "", None),
        ("/other", "", None),
    ],
)
def test_which_paths_are_webhooks(path: str, root: str, expected: str | None) -> None:
    """Only `/webhooks/<id>` (below any root path) takes the fast path."""
    assert _webhook_source({"path": path, "root_path": root}) == expected


SES_CLICK = next(case for case in cases("amazon_ses") if case.name == "click")
SES_PAIR = "sns:correct-horse"


@pytest.fixture
def ses_client(tmp_path: Path) -> Iterator[TestClient]:
    source = {**SES_CLICK.manifest["source"], "basic_auth": [SES_PAIR]}
    settings = parse_settings(
        {"storage": {"url": f"sqlite:///{tmp_path / 'ses.db'}"}, "sources": [source]}, {}
    )
    received_at = parse_time(SES_CLICK.manifest["received_at"])
    app = create_app(settings, run_background=False, clock=lambda: received_at)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        (basic_authorization("sns:wrong-pass"), 401),
        ("Basic !!!", 401),
        (basic_authorization(SES_PAIR), 200),
    ],
)
def test_ses_basic_auth_is_enforced_with_a_challenge(
    ses_client: TestClient, authorization: str | None, status: int
) -> None:
    """An SES source with basic_auth answers 401 + WWW-Authenticate (SNS's cue to send the
    credentials) without the right pair, and stores nothing; with it the click is accepted."""
    headers = dict(SES_CLICK.headers)
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = ses_client.post("/webhooks/ses", content=SES_CLICK.body, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic realm=")
        assert answer.json() == {
            "ok": False,
            "error": "signature",
            "message": answer.json()["message"],
        }
        assert "correct-horse" not in answer.text
    else:
        assert "www-authenticate" not in answer.headers
        assert answer.json()["accepted"] == 1


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample of source cio in a /metrics page (0 when absent)."""
    wanted = {"source": "cio", **labels}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and sample.labels == wanted:
                return float(sample.value)
    return 0.0


def _raise(exception: BaseException) -> Callable[..., Any]:
    def crash(*args: Any) -> Any:
        raise exception

    return crash


@pytest.mark.parametrize("hook", ["verify", "certificate_url"])
@pytest.mark.parametrize(
    "exception",
    [KeyError("signing_keys"), RuntimeError("boom"), ZeroDivisionError(), RecursionError()],
    ids=lambda error: type(error).__name__,
)
def test_a_crash_in_verify_is_a_logged_counted_json_500(
    client: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hook: str,
    exception: Exception,
) -> None:
    """A bug raised in a provider's verify hooks is answered 500 with our JSON body (the ESP
    retries), logged with its stack, counted by reason, and stores nothing."""
    monkeypatch.setattr(customerio, hook, _raise(exception))
    with capture_logs() as logs:
        answer = client.post("/webhooks/cio", content=CIO_BODY, headers=_cio_headers())
    assert answer.status_code == 500
    assert answer.headers["x-request-id"]
    assert answer.json() == {
        "ok": False,
        "error": "verify_crash",
        "message": f"internal error in customerio verify ({type(exception).__name__})",
    }
    [line] = [entry for entry in logs if entry["event"] == "webhook"]
    assert line["log_level"] == "error" and line["exc_info"] is True
    assert line["outcome"] == "error" and line["reason"] == "verify_crash"
    metrics = client.get("/metrics").text
    assert _sample(metrics, "connector_webhooks_rejected_total", reason="verify_crash") == 1
    assert _sample(metrics, "connector_webhooks_total", outcome="error") == 1
    assert _stored(tmp_path) == {"events": 0, "rejections": 0, "tasks": 0, "nonces": 0}


def test_a_crash_in_verify_gets_the_providers_retry_status(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Brevo discards a webhook on any 5xx, so its verify crash is answered 429 (retried)."""
    monkeypatch.setattr(brevo, "verify", _raise(RuntimeError("boom")))
    body = (ROOT / "fixtures/brevo/click.raw").read_bytes()
    answer = client.post("/webhooks/brevo", content=body)
    assert answer.status_code == 429
    assert answer.json()["error"] == "verify_crash"


def test_a_crash_after_verify_is_a_json_500_too(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any other bug on the request path ends in the same mapping: JSON 500, stack, counted."""
    monkeypatch.setattr("connector.pipeline.ingest.build_batch", _raise(TypeError("bad")))
    with capture_logs() as logs:
        answer = client.post("/webhooks/cio", content=CIO_BODY, headers=_cio_headers())
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal"
    [line] = [entry for entry in logs if entry["event"] == "webhook"]
    assert line["log_level"] == "error" and line["exc_info"] is True
    assert _stored(tmp_path)["events"] == 0


def test_a_parse_crash_is_still_a_stored_rejection(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in parse keeps its old handling: acknowledged 200, stored as one rejection."""
    monkeypatch.setattr(customerio, "parse", _raise(RuntimeError("boom")))
    answer = client.post("/webhooks/cio", content=CIO_BODY, headers=_cio_headers())
    assert answer.status_code == 200
    assert answer.json()["rejected"] == 1
    assert _stored(tmp_path)["rejections"] == 1


@pytest.mark.parametrize("chunks", [[], [b""], [CIO_BODY[:10]], [CIO_BODY[:10], CIO_BODY[10:50]]])
def test_a_client_disconnect_mid_body_is_counted_logged_and_not_stored(
    client: TestClient, tmp_path: Path, chunks: list[bytes]
) -> None:
    """A caller that leaves mid-body gets no answer (nobody to read it), an info log line, an
    outcome in the metrics, and nothing stored; the app raises nothing to the server."""
    app = client.app
    messages = [
        *({"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks),
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = {**_cio_headers(), "content-length": str(len(CIO_BODY))}
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/cio",
        "root_path": "",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    with capture_logs() as logs:
        client.portal.call(app, scope, receive, send)  # type: ignore[arg-type]
    assert sent == []
    [line] = [entry for entry in logs if entry["event"] == "webhook"]
    assert line["log_level"] == "info" and line["outcome"] == "disconnected"
    assert line["received_bytes"] == sum(map(len, chunks))
    metrics = client.get("/metrics").text
    assert _sample(metrics, "connector_webhooks_total", outcome="disconnected") == 1
    assert _stored(tmp_path) == {"events": 0, "rejections": 0, "tasks": 0, "nonces": 0}


def _disconnects(base: str) -> float:
    metrics = httpx.get(f"{base}/metrics").text
    return _sample(metrics, "connector_webhooks_total", outcome="disconnected")


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_disconnect_through_uvicorn_is_no_server_error(tmp_path: Path) -> None:
    """Over a real socket, a client that hangs up mid-body leaves no "Exception in ASGI
    application" in uvicorn's error log, and the service counts it and keeps serving."""
    errors = _Errors()
    logging.getLogger("uvicorn.error").addHandler(errors)
    port = free_port()
    app = create_app(_settings(tmp_path), run_background=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        head = (
            f"POST /webhooks/cio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {len(CIO_BODY)}\r\nContent-Type: application/json\r\n\r\n"
        ).encode()
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(head + CIO_BODY[:40])
                time.sleep(0.05)
        deadline = time.monotonic() + 5
        while _disconnects(base) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _disconnects(base) == 3
        answer = httpx.post(f"{base}/webhooks/cio", content=CIO_BODY, headers=_cio_headers())
        assert answer.status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert [record.getMessage() for record in errors.records] == []
    assert _stored(tmp_path)["events"] == 1
