"""The admin API: bearer token, clear 4xx for bad input, nothing half-created, OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connector.admin.routes import AdminApi
from connector.app import create_app
from connector.config import parse_settings
from connector.errors import StorageUnavailable

TOKEN = "unit-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _settings(tmp_path: Path, token: str | None = TOKEN) -> Any:
    rules = [
        {"id": "nudge", "trigger": "not_clicked", "actions": ["log"]},
        {"id": "live", "actions": ["log"]},
        {"id": "confirm", "trigger": "wait", "timeout": "1h", "on_timeout": ["log"]},
    ]
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path / 'api.db'}"},
        "worker": {"mode": "inline"},
        "rules": rules,
        "actions": [{"id": "log", "type": "log"}],
    }
    if token is not None:
        data["admin"] = {"token": token}
    return parse_settings(data, env={})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), run_background=False)
    with TestClient(app) as test_client:
        yield test_client


def _later(seconds: float = 3600) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat()


def test_without_a_token_the_api_is_off(tmp_path: Path) -> None:
    """No `[admin] token`: every /api/v1 path is a JSON 404 saying how to turn it on."""
    with TestClient(create_app(_settings(tmp_path, token=None), run_background=False)) as c:
        response = c.post("/api/v1/checks", json={}, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "api_off"


@pytest.mark.parametrize(
    "header", [{}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}]
)
def test_a_missing_or_wrong_token_is_401(client: TestClient, header: dict[str, str]) -> None:
    response = client.get("/api/v1/checks", headers=header)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/api/v1/nothing-here", 404, None),
        ("GET", "/api/v1/links/..%2F..%2Fetc/more", 404, None),
        ("DELETE", "/api/v1/links/spring", 405, "GET, HEAD, PATCH"),
        ("PUT", "/api/v1/checks", 405, "GET, HEAD, POST"),
    ],
)
def test_an_unknown_path_or_method_gets_the_api_error_body(
    client: TestClient, method: str, path: str, status: int, allow: str | None
) -> None:
    """Starlette's own 404 and 405 are plain text; the API answers both in its JSON body,
    a 405 with the methods the path takes."""
    response = client.request(method, path, headers=AUTH)
    assert response.status_code == status
    assert response.json()["error"] == ("not_found" if status == 404 else "method")
    assert response.headers.get("allow") == allow


def test_a_check_is_created_once_listed_and_cancelled(client: TestClient) -> None:
    """Registering the same check twice returns it; cancelling works once (then 409)."""
    body = {"rule": "nudge", "send": {"campaign_id": "spring"}, "at": _later()}
    first = client.post("/api/v1/checks", json=body, headers=AUTH)
    again = client.post("/api/v1/checks", json=body, headers=AUTH)
    assert (first.status_code, again.status_code) == (201, 200)
    check = first.json()
    assert check["status"] == "pending" and check["send"] == {
        "message_id": None,
        "campaign_id": "spring",
    }
    listed = client.get("/api/v1/checks?campaign_id=spring", headers=AUTH).json()["checks"]
    assert [c["id"] for c in listed] == [check["id"]]
    cancelled = client.delete(f"/api/v1/checks/{check['id']}", headers=AUTH)
    assert cancelled.json()["status"] == "cancelled"
    assert client.delete(f"/api/v1/checks/{check['id']}", headers=AUTH).status_code == 409
    assert client.get("/api/v1/checks/chk_nope", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"rule": "nudge", "send": {"campaign_id": "s"}, "at": "2020-01-01T00:00:00Z"},
            422,
            "in the past",
        ),
        ({"rule": "nudge", "send": {"campaign_id": "s"}, "at": "tomorrow"}, 422, "is not a time"),
        ({"rule": "nope", "send": {"campaign_id": "s"}, "at": _later()}, 422, "unknown rule"),
        ({"rule": "live", "send": {"campaign_id": "s"}, "at": _later()}, 422, "trigger = 'click'"),
        ({"rule": "nudge", "send": {}, "at": _later()}, 422, "exactly one of message_id"),
        ({"rule": "nudge", "send": {"campaign_id": "s"}, "at": _later(), "x": 1}, 422, "x: Extra"),
    ],
)
def test_bad_checks_are_clear_4xx_and_create_nothing(
    client: TestClient, body: dict[str, Any], status: int, words: str
) -> None:
    response = client.post("/api/v1/checks", json=body, headers=AUTH)
    assert response.status_code == status
    assert words in response.text
    assert client.get("/api/v1/checks", headers=AUTH).json()["checks"] == []


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/checks", content=b"{nope", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "malformed"


def test_an_unknown_send_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/checks?campaign_id=never-sent", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_send"


def test_registered_recipients_start_waits_and_become_a_known_send(client: TestClient) -> None:
    """Recipients registered for an ESP without delivery reports start the rules' waits."""
    body = {
        "send": {"message_id": "m-1"},
        "recipients": [{"email": "Ann@Example.org"}, {"id": "u2"}],
    }
    response = client.post("/api/v1/recipients", json=body, headers=AUTH)
    assert response.status_code == 201
    assert response.json() == {"registered": 2, "timers_started": 2}
    waits = client.get("/api/v1/checks?message_id=m-1", headers=AUTH).json()["checks"]
    assert sorted(w["recipient"] for w in waits) == ["ann@example.org", "id:u2"]
    assert {w["trigger"] for w in waits} == {"wait"}


def test_a_wait_started_through_the_api_is_the_delivery_s_wait(client: TestClient) -> None:
    body = {"rule": "confirm", "recipient": {"email": "ann@example.org"}, "message_id": "m-9"}
    first = client.post("/api/v1/waits", json=body, headers=AUTH)
    again = client.post("/api/v1/waits", json=body, headers=AUTH)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    wrong = client.post("/api/v1/waits", json={**body, "rule": "nudge"}, headers=AUTH)
    assert wrong.status_code == 422


def test_a_wait_due_past_year_9999_is_answered_and_listed(client: TestClient) -> None:
    """A wait started "in" 9999 (an ESP's bogus date) ends past what a datetime holds:
    its due time reads as the last second of 9999 instead of a bare 500 for every list."""
    body = {"rule": "confirm", "recipient": {"email": "ann@example.org"}, "message_id": "m-f"}
    started = client.post(
        "/api/v1/waits", json={**body, "started_at": "9999-12-31T23:30:00Z"}, headers=AUTH
    )
    listed = client.get("/api/v1/checks?message_id=m-f", headers=AUTH)
    assert (started.status_code, listed.status_code) == (201, 200)
    assert [c["due_at"] for c in listed.json()["checks"]] == ["9999-12-31T23:59:59Z"]


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (StorageUnavailable("the database is down"), 503, "storage_unavailable"),
        (ValueError("year 10000 is out of range"), 500, "internal"),
    ],
)
def test_a_store_outage_or_a_bug_is_a_json_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, reason: str
) -> None:
    """The database down is a JSON 503 (retry later); a bug a JSON 500 naming only its type,
    never uvicorn's bare text 500."""

    async def failing(self: AdminApi, request: object) -> None:
        raise error

    monkeypatch.setattr(AdminApi, "list_checks", failing)
    with TestClient(create_app(_settings(tmp_path), run_background=False)) as c:
        response = c.get("/api/v1/checks", headers=AUTH)
    assert (response.status_code, response.json()["error"]) == (status, reason)
    assert "year 10000" not in response.text


def test_an_oversized_body_is_413_and_stores_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body past the admin API's cap is refused before it is read whole; nothing of it
    is registered (20 MB of metadata used to be stored in every recipient's row)."""
    monkeypatch.setattr("connector.admin.http.MAX_BODY", 1000)
    person = {"email": "ann@example.org", "metadata": {"notes": "x" * 2000}}
    body = {"send": {"campaign_id": "big"}, "recipients": [person]}
    refused = client.post("/api/v1/recipients", json=body, headers=AUTH)
    listed = client.get("/api/v1/checks?campaign_id=big", headers=AUTH)
    assert (refused.status_code, refused.json()["error"]) == (413, "too_large")
    assert listed.status_code == 404


def test_an_unknown_status_filter_is_422(client: TestClient) -> None:
    response = client.get("/api/v1/checks?status=weird", headers=AUTH)
    assert response.status_code == 422 and "pending" in response.json()["message"]


def test_the_openapi_document_describes_every_route(client: TestClient) -> None:
    """Generated from the pydantic models: each route, its body and its answers."""
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/checks",
        "/checks/{check_id}",
        "/recipients",
        "/waits",
        "/events",
        "/events/{event_id}",
        "/reports/{subject}",
        "/reports/{subject}/{key}",
        "/reports/{subject}/{key}/contacts",
        "/links",
        "/links/{slug}",
        "/links/{slug}/enable",
        "/links/{slug}/disable",
        "/links/{slug}/urls",
    }
    post = document["paths"]["/checks"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CheckRequest"
    )
    assert "CheckRequest" in document["components"]["schemas"]
    assert document["components"]["schemas"]["CheckRequest"]["required"] == ["rule", "send", "at"]


def test_events_are_listed_newest_first_and_paged(client: TestClient) -> None:
    empty = client.get("/api/v1/events", headers=AUTH).json()
    assert empty == {"events": [], "next_before": None}
    assert client.get("/api/v1/events?limit=0", headers=AUTH).status_code == 422
    assert client.get("/api/v1/events/evt_missing", headers=AUTH).status_code == 404
