"""Callers that hang up mid-body on the admin API and the dashboard's forms (outside-in QA).

A phone on a train or a script killed with Ctrl-C leaves a POST half sent. The webhook route
has always counted that as a disconnect; the admin API logged it as `admin.error` with a
stack trace, and the dashboard's login raised Starlette's `ClientDisconnect` to uvicorn
("Exception in ASGI application"), both read by an operator as a bug of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from connector.app import create_app
from connector.config import parse_settings

TOKEN = "qa-admin-token-0123456789"
BODY = b'{"slug": "spring", "name": "Spring", "destination": "https://shop.example/"}'
FORM = b"password=" + TOKEN.encode() + b"&next=/ui/events"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path / 'qa.db'}"},
        "worker": {"mode": "inline"},
        "actions": [{"id": "log", "type": "log"}],
        "rules": [{"id": "live", "actions": ["log"]}],
        "admin": {"token": TOKEN},
        "trigger_links": {"secret": "qa-link-secret-0123456789"},
    }
    app = create_app(parse_settings(data, env={}), run_background=False)
    with TestClient(app) as test_client:
        yield test_client


def _hang_up(client: TestClient, path: str, headers: dict[str, str], body: bytes) -> list[Any]:
    """POST `path` announcing `body`, send half of it, then disconnect; what the app sent."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    announced = {**headers, "content-length": str(len(body))}
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "scheme": "http",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.encode(), v.encode()) for k, v in announced.items()],
    }
    client.portal.call(client.app, scope, receive, send)  # type: ignore[arg-type]
    return sent


API = {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"}
FORMS = {"content-type": "application/x-www-form-urlencoded"}


SIGNED_IN = {**FORMS, "cookie": ""}  # filled with a session cookie by the test


def _session_cookie(client: TestClient) -> str:
    answer = client.post("/ui/login", data={"password": TOKEN}, follow_redirects=False)
    return answer.headers["set-cookie"].split(";")[0]


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/api/v1/links", API, BODY),
        ("/api/v1/links/spring/urls", API, b'{"contacts": ["u_1", "u_2"]}'),
        ("/api/v1/checks", API, b'{"rule": "live", "send": {"campaign_id": "42"}}'),
        ("/api/v1/recipients", API, b'{"send": {"campaign_id": "42"}, "recipients": []}'),
        ("/ui/login", FORMS, FORM),
        ("/ui/deliveries/replay", SIGNED_IN, b"csrf=0123456789abcdef&id=all-dead"),
        ("/ui/logout", SIGNED_IN, b"csrf=0123456789abcdef"),
    ],
    ids=["links", "urls", "checks", "recipients", "login", "replay", "logout"],
)
def test_a_caller_hanging_up_mid_body_is_no_error(
    client: TestClient, path: str, headers: dict[str, str], body: bytes
) -> None:
    """A POST whose caller leaves mid-body raises nothing to the server and logs no error:
    one info line `disconnected` (as the webhook route does), and nothing is answered."""
    if "cookie" in headers:
        headers = {**headers, "cookie": _session_cookie(client)}
    with capture_logs() as logs:
        sent = _hang_up(client, path, headers, body)
    assert [e for e in logs if e["log_level"] in ("error", "critical", "exception")] == []
    assert [e["event"] for e in logs if e["event"].endswith("disconnected")] != []
    assert not any(m.get("status", 0) >= 500 for m in sent)
