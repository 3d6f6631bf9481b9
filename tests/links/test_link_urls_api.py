"""`POST /api/v1/links/{slug}/urls`: contacts' tracked URLs from the admin API, the same
as `connector links url` prints, that the redirect reads back as those contacts; clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from connector.app import create_app
from connector.cli import main
from connector.config import parse_settings
from connector.links.tokens import verify

TOKEN = "unit-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
SECRET = "0123456789abcdef0123"
BASE = "https://go.example/"
LINK = {"slug": "promo", "destination": "https://x.example/p?who={contact}&v={query.v}"}
URLS = "/api/v1/links/promo/urls"


def _config(tmp_path: Path, trigger_links: dict[str, str]) -> dict[str, Any]:
    return {
        "storage": {"url": f"sqlite:///{tmp_path / 'urls.db'}"},
        "worker": {"mode": "inline"},
        "admin": {"token": TOKEN},
        "trigger_links": trigger_links,
        "links": [LINK],
    }


def _client(tmp_path: Path, trigger_links: dict[str, str]) -> Iterator[TestClient]:
    settings = parse_settings(_config(tmp_path, trigger_links), env={})
    with TestClient(create_app(settings, run_background=False), follow_redirects=False) as c:
        yield c


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, {"secret": SECRET, "base_url": BASE})


def test_one_contact_gets_a_url_the_redirect_reads_as_that_contact(client: TestClient) -> None:
    """The URL is base + /t/slug + a token naming the contact; following it fills {contact}."""
    response = client.post(URLS, json={"contact": "u/42", "query": {"v": "b c"}}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["slug"], body["enabled"]) == ("promo", True)
    [one] = body["urls"]
    url = urlsplit(one["url"])
    assert (one["contact"], url.scheme, url.netloc, url.path) == (
        "u/42",
        "https",
        "go.example",
        "/t/promo",
    )
    query = parse_qs(url.query)
    assert verify(SECRET.encode(), "promo", query["c"][0]) == "u/42"
    assert query["v"] == ["b c"]
    followed = client.get(f"{url.path}?{url.query}")
    assert followed.headers["location"] == "https://x.example/p?who=u%2F42&v=b%20c"


def test_a_batch_keeps_its_order_and_matches_the_cli(client: TestClient, tmp_path: Path) -> None:
    """Each contact of a batch gets its own URL, in order, exactly as `connector links url`
    prints it (one code path)."""
    people = ["ann", "bob", "cy ü"]
    response = client.post(URLS, json={"contacts": people, "query": {"v": "1"}}, headers=AUTH)
    assert [u["contact"] for u in response.json()["urls"]] == people
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "urls.db"}"\n'
        f'[trigger_links]\nsecret = "{SECRET}"\nbase_url = "{BASE}"\n'
    )
    for item in response.json()["urls"]:
        args = ["links", "url", "promo", "--contact", item["contact"], "--query", "v=1"]
        printed = CliRunner().invoke(main, [*args, "--config", str(config)])
        assert printed.output.strip() == item["url"], printed.output


def test_a_base_url_in_the_body_wins(client: TestClient) -> None:
    """`base_url` in the body replaces the configured one (as `--base-url` does)."""
    body = {"contact": "ann", "base_url": "https://sms.example/go"}
    url = client.post(URLS, json=body, headers=AUTH).json()["urls"][0]["url"]
    assert url.startswith("https://sms.example/go/t/promo?c=")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "exactly one of contact and contacts"),
        ({"contact": "a", "contacts": ["b"]}, "exactly one of contact and contacts"),
        ({"contacts": []}, "contacts: List should have at least 1 item"),
        ({"contacts": ["a"] * 1001}, "contacts: List should have at most 1000 items"),
        ({"contacts": ["a", ""]}, "contacts.1: must not be empty"),
        ({"contact": "x" * 301}, "contact: must be at most 300 bytes"),
        ({"contact": "a", "query": {"c": "forged"}}, "contact token's own parameter"),
        ({"contact": "a", "base_url": "go.example"}, "base_url: must be an absolute"),
        ({"contact": "a", "base_url": "https://x.example/p?z=1"}, "query or fragment"),
        ({"contact": "a", "base_url": "https://x.example/#f"}, "query or fragment"),
        ({"contact": "a", "extra": 1}, "extra: Extra inputs are not permitted"),
        ({"contact": 7}, "contact: Input should be a valid string"),
    ],
)
def test_bad_bodies_are_422(client: TestClient, body: dict[str, Any], needle: str) -> None:
    """Every bad field is named in the project's problem body."""
    response = client.post(URLS, json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert needle in " ".join(response.json()["problems"])


def test_unknown_slug_malformed_json_and_no_token(client: TestClient) -> None:
    """404 for a slug nobody made, 422 for a body that is not JSON, 401 without the token."""
    missing = client.post("/api/v1/links/nope/urls", json={"contact": "a"}, headers=AUTH)
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    malformed = client.post(URLS, content=b"{", headers=AUTH)
    assert (malformed.status_code, malformed.json()["error"]) == (422, "malformed")
    assert client.post(URLS, json={"contact": "a"}).status_code == 401


@pytest.mark.parametrize(
    ("trigger_links", "status", "error"),
    [({"base_url": BASE}, 409, "no_secret"), ({"secret": SECRET}, 422, "invalid")],
)
def test_without_secret_or_base_url(
    tmp_path: Path, trigger_links: dict[str, str], status: int, error: str
) -> None:
    """No secret to sign with: 409; no base URL in the body or the config: 422."""
    for client in _client(tmp_path, trigger_links):
        response = client.post(URLS, json={"contact": "a"}, headers=AUTH)
        assert (response.status_code, response.json()["error"]) == (status, error)


def test_openapi_documents_the_route(client: TestClient) -> None:
    """The route, its request and answer models are in the generated document."""
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/links/{slug}/urls"]["post"]
    assert set(operation["responses"]) >= {"200", "404", "409", "422", "401"}
    assert {"UrlsRequest", "LinkUrls"} <= set(document["components"]["schemas"])
