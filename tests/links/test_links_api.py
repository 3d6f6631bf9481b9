"""The admin API's trigger links: create, list, edit, enable/disable, clear 4xx, OpenAPI; and
config links written at start-up, an API edit lasting until the config entry changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.config import parse_settings

TOKEN = "unit-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
NEW = {"slug": "promo", "name": "Promo", "destination": "https://x.example/p?c={contact}"}


def _settings(tmp_path: Path, links: list[dict[str, Any]] | None = None) -> Any:
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path / 'api.db'}"},
        "worker": {"mode": "inline"},
        "admin": {"token": TOKEN},
        "trigger_links": {"secret": "0123456789abcdef0123"},
        "links": links or [],
    }
    return parse_settings(data, env={})


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path), run_background=False)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def test_create_then_read_list_and_follow(client: TestClient) -> None:
    """A created link is readable, listed, and redirects at once."""
    created = client.post("/api/v1/links", json=NEW, headers=AUTH)
    assert created.status_code == 201
    assert created.json()["origin"] == "api" and created.json()["enabled"] is True
    assert (
        client.get("/api/v1/links/promo", headers=AUTH).json()["destination"] == NEW["destination"]
    )
    assert [link["slug"] for link in client.get("/api/v1/links", headers=AUTH).json()["links"]] == [
        "promo"
    ]
    assert client.get("/t/promo").headers["location"] == "https://x.example/p"


def test_the_list_pages_on_with_next_after(client: TestClient) -> None:
    """`?limit=` pages, `next_after` names the next page's start, None on the last one."""
    for slug in ("e", "c", "a", "d", "b"):
        client.post("/api/v1/links", json={**NEW, "slug": slug}, headers=AUTH)
    seen: list[str] = []
    query: dict[str, str] = {"limit": "2"}
    while True:
        page = client.get("/api/v1/links", params=query, headers=AUTH).json()
        seen += [link["slug"] for link in page["links"]]
        if page["next_after"] is None:
            break
        query["after"] = page["next_after"]
    assert seen == ["a", "b", "c", "d", "e"]


def test_edits_apply_to_the_next_click(client: TestClient) -> None:
    """Destination, values and the enabled flag edited through the API take effect at once
    (the redirect's cache is dropped)."""
    client.post("/api/v1/links", json=NEW, headers=AUTH)
    assert client.get("/t/promo").status_code == 302  # now cached
    edit = {"destination": "https://y.example/{values.v}", "values": {"v": "two"}}
    assert client.patch("/api/v1/links/promo", json=edit, headers=AUTH).status_code == 200
    assert client.get("/t/promo").headers["location"] == "https://y.example/two"
    assert client.post("/api/v1/links/promo/disable", headers=AUTH).json()["enabled"] is False
    assert client.get("/t/promo").status_code == 410
    fallback = {"fallback_url": "https://y.example/closed"}
    client.patch("/api/v1/links/promo", json=fallback, headers=AUTH)
    assert client.get("/t/promo").headers["location"] == "https://y.example/closed"
    client.post("/api/v1/links/promo/enable", headers=AUTH)
    assert client.get("/t/promo").headers["location"] == "https://y.example/two"


@pytest.mark.parametrize("path", ["/t/promo/", "/t/promo./", "/t/promo/?src=sms"])
def test_a_trailing_slash_gets_the_links_own_redirect(client: TestClient, path: str) -> None:
    """Not Starlette's 307 to `http://<Host>/t/promo` (plain http behind a TLS proxy, and a
    hop before the click is recorded): the same 302 as `/t/promo`."""
    client.post("/api/v1/links", json=NEW, headers=AUTH)
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["location"] == client.get("/t/promo").headers["location"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({**NEW, "slug": "bad slug"}, "slug"),
        ({**NEW, "destination": "javascript:alert(1)"}, "absolute"),
        ({**NEW, "destination": "https://x.example/{who}"}, "unknown placeholder"),
        ({**NEW, "destination": "https://x.example/{values.v}"}, "names no entry"),
        ({**NEW, "fallback_url": "/relative"}, "fallback_url"),
        ({**NEW, "fallback_url": "https://y.example/{contact}"}, "placeholders are not filled"),
        ({**NEW, "surprise": 1}, "surprise"),
    ],
)
def test_bad_links_are_422(client: TestClient, body: dict[str, Any], needle: str) -> None:
    """Bad slug, bad URL, unknown placeholder or field: 422 naming the problem."""
    response = client.post("/api/v1/links", json=body, headers=AUTH)
    assert response.status_code == 422
    assert needle in " ".join(response.json()["problems"])


def test_duplicate_unknown_and_bad_edits(client: TestClient) -> None:
    """409 for a taken slug, 404 for an unknown one, 422 for an edit that breaks the link."""
    client.post("/api/v1/links", json=NEW, headers=AUTH)
    assert client.post("/api/v1/links", json=NEW, headers=AUTH).status_code == 409
    assert client.get("/api/v1/links/nope", headers=AUTH).status_code == 404
    assert client.patch("/api/v1/links/nope", json={}, headers=AUTH).status_code == 404
    bad = client.patch("/api/v1/links/promo", json={"destination": "ftp://x/"}, headers=AUTH)
    assert bad.status_code == 422
    assert (
        client.get("/api/v1/links/promo", headers=AUTH).json()["destination"] == NEW["destination"]
    )
    assert client.post("/api/v1/links", content=b"{", headers=AUTH).status_code == 422
    assert client.get("/api/v1/links", headers=AUTH | {}).status_code == 200
    assert client.get("/api/v1/links").status_code == 401


def test_openapi_lists_the_link_routes(client: TestClient) -> None:
    """The generated document has every link route and its models."""
    document = client.get("/api/v1/openapi.json").json()
    assert {"post", "get"} <= set(document["paths"]["/links"])
    assert "patch" in document["paths"]["/links/{slug}"]
    assert "LinkOut" in document["components"]["schemas"]


def test_config_links_are_written_and_api_edits_last_until_the_config_changes(
    tmp_path: Path,
) -> None:
    """Start-up writes [[links]]; an API edit survives a restart with the same config, and a
    changed config entry replaces it."""
    entry = {"slug": "cfg", "destination": "https://x.example/one"}
    with TestClient(create_app(_settings(tmp_path, [entry]), run_background=False)) as c:
        assert c.get("/api/v1/links/cfg", headers=AUTH).json()["origin"] == "config"
        c.patch("/api/v1/links/cfg", json={"destination": "https://x.example/api"}, headers=AUTH)
    with TestClient(create_app(_settings(tmp_path, [entry]), run_background=False)) as c:
        assert c.get("/api/v1/links/cfg", headers=AUTH).json()["destination"].endswith("/api")
    changed = {**entry, "destination": "https://x.example/two"}
    with TestClient(create_app(_settings(tmp_path, [changed]), run_background=False)) as c:
        assert c.get("/api/v1/links/cfg", headers=AUTH).json()["destination"].endswith("/two")
