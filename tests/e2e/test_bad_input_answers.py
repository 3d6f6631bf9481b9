"""Bad input from outside gets a clear 4xx on both backends, never a 500 (PostgreSQL cannot
hold a NUL in text; a store's integers are 64-bit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.config import parse_settings
from tests.storage.conftest import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]

TOKEN = "bad-input-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
LINK = {"slug": "spring", "name": "Spring", "destination": "https://shop.example/s?v={values.v}"}
NUL_LINK = {**LINK, "slug": "nul"}
PLAIN = {"slug": "big", "name": "Big", "destination": "https://shop.example/"}


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    """The real app on each backend, with the admin API, the dashboard and one link."""
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    data: dict[str, Any] = {
        "storage": {"url": url},
        "worker": {"mode": "inline"},
        "actions": [{"id": "log", "type": "log"}],
        "rules": [{"id": "live", "actions": ["log"]}],
        "admin": {"token": TOKEN},
        "trigger_links": {"secret": "bad-input-link-secret-0123"},
        "links": [{**LINK, "values": {"v": "b"}}],
    }
    app = create_app(parse_settings(data, env={}), run_background=False)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/api/v1/events?source=a%00", "source"),
        ("/api/v1/events?type=%00", "type"),
        ("/api/v1/events/a%00b", "event_id"),
        ("/api/v1/events?before=99999999999999999999999", "before"),
        ("/api/v1/events?type=link.click", "type"),
        ("/api/v1/links/%00", "slug"),
        ("/api/v1/checks/%00", "check_id"),
        ("/api/v1/checks?campaign_id=%00", "campaign_id"),
        ("/api/v1/reports/campaign?after=%00", "after"),
        ("/api/v1/reports/trigger/spring/contacts?after=x%00", "after"),
        ("/api/v1/reports/trigger/sp%00ring", "rest"),
    ],
)
def test_a_bad_api_parameter_is_a_422_naming_it(client: TestClient, path: str, named: str) -> None:
    """A NUL in the path or query, a number past 64 bits or an event type that does not
    exist is a 422 naming the parameter."""
    response = client.get(path, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith(f"{named}: ")


@pytest.mark.parametrize(
    ("method", "path", "body", "problem"),
    [
        ("post", "/api/v1/links", {**NUL_LINK, "name": "a\x00b"}, "name: must not hold a NUL"),
        (
            "post",
            "/api/v1/links",
            {**NUL_LINK, "values": {"v\x00": "x"}},
            "values.v\\x00: must not hold a NUL",
        ),
        ("patch", "/api/v1/links/spring", {"values": {"v": "\x00"}}, "values.v: must not"),
        ("post", "/api/v1/links/spring/urls", {"contact": "u\x00"}, "contact: must not hold"),
        (
            "post",
            "/api/v1/recipients",
            {"send": {"campaign_id": "c\x00"}, "recipients": [{"email": "a@b.example"}]},
            "send.campaign_id: must not hold",
        ),
    ],
)
def test_a_nul_in_a_json_body_is_a_422_and_nothing_is_stored(
    client: TestClient, method: str, path: str, body: dict[str, Any], problem: str
) -> None:
    """A NUL anywhere in a JSON body (value or key) is refused before it reaches the store."""
    response = client.request(method, path, json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith(problem)
    assert client.get("/api/v1/links/nul", headers=AUTH).status_code == 404
    assert client.get("/api/v1/links/spring", headers=AUTH).json()["values"] == {"v": "b"}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({**LINK, "slug": "a b"}, "slug: 1-64 letters"),
        ([], "body: must be a JSON object"),
    ],
)
def test_a_link_problem_reads_once_and_names_no_class(
    client: TestClient, body: object, problem: str
) -> None:
    """The message says the field once and never an internal class name."""
    response = client.post("/api/v1/links", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["problems"] == [problem + response.json()["problems"][0][len(problem) :]]
    assert "Settings" not in response.text


def signed_in(client: TestClient) -> str:
    """Sign in to the dashboard; the CSRF token of the session."""
    client.post("/ui/login", data={"password": TOKEN})
    page = client.get("/ui/deliveries").text
    return page.split('name="csrf" value="')[1].split('"')[0]


@pytest.mark.parametrize(
    "path",
    [
        "/ui/events?source=%00",
        "/ui/events?rule=a%00",
        "/ui/events/%00",
        "/ui/reports?subject=campaign&after=%00",
        "/ui/report?subject=trigger&key=%00",
        "/ui/report?subject=trigger&key=spring&after=%00",
    ],
)
def test_a_nul_in_a_dashboard_address_is_a_400(client: TestClient, path: str) -> None:
    """The dashboard answers a NUL in its address with a 400 that says so."""
    signed_in(client)
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL" in response.text


@pytest.mark.parametrize("before", ["99999999999999999999999", "-99999999999999999999"])
def test_a_huge_events_cursor_shows_the_first_page(client: TestClient, before: str) -> None:
    """An events cursor past 64 bits is dropped (the newest page), not a 500."""
    signed_in(client)
    response = client.get("/ui/events", params={"before": before})
    assert response.status_code == 200
    assert "<h1>Events" in response.text


def test_a_nul_in_a_replay_form_is_a_400(client: TestClient) -> None:
    """Replaying a delivery id with a NUL in it is refused with a 400, after the CSRF check."""
    csrf = signed_in(client)
    response = client.post("/ui/deliveries/replay", data={"csrf": csrf, "id": "d\x00"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {**PLAIN, "name": "x" * 100_000},
        {**PLAIN, "values": {f"k{n}": "v" * 100 for n in range(10_000)}},
        {**PLAIN, "values": {"v": "v" * 100_000}},
        {**PLAIN, "values": {"k" * 1000: "v"}},
        {**PLAIN, "destination": "https://shop.example/?" + "q" * 100_000},
        {**PLAIN, "fallback_url": "https://shop.example/?" + "q" * 100_000},
    ],
)
def test_an_oversized_link_is_a_422(client: TestClient, body: dict[str, Any]) -> None:
    """A link whose name or values are far past any real use is refused."""
    assert client.post("/api/v1/links", json=body, headers=AUTH).status_code == 422
