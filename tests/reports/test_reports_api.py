"""`/api/v1/reports`: JSON pages, CSV export, 404 for unknown subjects, 422 for bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.config import parse_settings
from connector.storage.report_records import CountedClick
from connector.storage.sqlite import SqliteStore

TOKEN = "unit-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
URL = "https://shop.example/sale?x=1"
H = 1_700_000_000 // 3600 * 3600


def _seed(path: Path) -> None:
    store = SqliteStore(path)
    store.open_sync()
    clicks = [
        CountedClick("e1", (("link", URL), ("campaign", "spring")), "a@x.io", H + 1, False),
        CountedClick("e2", (("link", URL),), "=b@x.io", H + 3601, True, final=True),
        CountedClick("e3", (("link", "https://other.example/report.csv"),), None, H, False),
    ]
    for click in clicks:
        store.transaction_sync(lambda tx, click=click: tx.count_clicks([click]))
    store.close_sync()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    _seed(tmp_path / "api.db")
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path / 'api.db'}"},
        "worker": {"mode": "inline"},
        "actions": [{"id": "log", "type": "log"}],
        "rules": [{"id": "live", "actions": ["log"]}],
        "admin": {"token": TOKEN},
    }
    app = create_app(parse_settings(data, env={}), run_background=False)
    with TestClient(app) as test_client:
        yield test_client


def get(client: TestClient, path: str, **params: str) -> Any:
    return client.get(f"/api/v1/reports/{path}", params=params, headers=AUTH)


def test_subjects_are_listed_with_totals_and_paged(client: TestClient) -> None:
    """The link list gives each link's totals, in key order, with a cursor for the next page."""
    first = get(client, "link", limit="1").json()
    assert [r["key"] for r in first["reports"]] == ["https://other.example/report.csv"]
    rest = get(client, "link", after=first["next_after"]).json()
    assert rest["reports"][0] | {"first_at": None, "last_at": None} == {
        "subject": "link",
        "key": URL,
        "clicks": 2,
        "contacts": 2,
        "human_immediate": 1,
        "suspected_immediate": 1,
        "human_settled": 0,
        "suspected_settled": 1,
        "first_at": None,
        "last_at": None,
    }
    assert rest["next_after"] is None


def test_one_link_by_its_url_has_totals_and_a_timeline(client: TestClient) -> None:
    """A URL key (slashes, an encoded `?`) reads its totals and clicks per hour."""
    body = get(client, "link/" + URL.replace("?", "%3F"), since=str(H), until=str(H + 7200)).json()
    assert body["totals"]["clicks"] == 2
    assert [(b["clicks"], b["human"]) for b in body["timeline"]] == [(1, 1), (1, 0)]


def test_contacts_are_paged_and_a_key_ending_in_csv_is_found_as_it_is(client: TestClient) -> None:
    """`/contacts` lists who clicked; a key that ends in `.csv` is a key first."""
    body = get(client, "campaign/spring/contacts").json()
    assert [c["recipient"] for c in body["contacts"]] == ["a@x.io"]
    assert get(client, "link/https://other.example/report.csv").json()["totals"]["clicks"] == 1


def test_csv_export_by_suffix_or_format_defuses_formulas(client: TestClient) -> None:
    """CSV of the subject list and of contacts; a recipient starting with `=` stays text."""
    listed = get(client, "link.csv")
    assert listed.headers["content-type"].startswith("text/csv")
    assert [row[1] for row in csv.reader(io.StringIO(listed.text))][1:] == [
        "https://other.example/report.csv",
        URL,
    ]
    contacts = get(client, "link/" + URL.replace("?", "%3F") + "/contacts", format="csv")
    rows = list(csv.reader(io.StringIO(contacts.text)))
    assert rows[0] == ["recipient", "clicks", "human_clicks", "first_at", "last_at"]
    assert [row[0] for row in rows[1:]] == ["'=b@x.io", "a@x.io"]


@pytest.mark.parametrize("path", ["nope", "link/https://unknown.example/", "campaign/x/contacts"])
def test_unknown_subjects_and_keys_are_404(client: TestClient, path: str) -> None:
    """An unknown kind or a key nobody clicked is a JSON 404."""
    response = get(client, path)
    assert response.status_code == 404
    assert response.json()["error"] in ("unknown_subject", "unknown_key")


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("link", {"limit": "0"}, "limit"),
        ("link", {"format": "xml"}, "format"),
        ("campaign/spring", {"since": "yesterday"}, "since"),
        (
            "campaign/spring",
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since",
        ),
        ("campaign/spring", {"since": "0", "until": "99999999"}, "since"),
        ("campaign/spring", {"until": "999999999999"}, "until"),
        ("campaign/spring", {"until": "0001-01-01T00:00:00Z"}, "since"),
        ("campaign/spring/contacts", {"after": "a\x00"}, "after"),
        ("campaign/sp%00ring", {}, "rest"),
    ],
)
def test_bad_parameters_are_422(
    client: TestClient, path: str, params: dict[str, str], named: str
) -> None:
    """A bad limit, format, key or time range is a 422 naming the parameter."""
    response = get(client, path, **params)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith(f"{named}: ")


def test_reports_need_the_token_and_are_in_the_openapi_document(client: TestClient) -> None:
    """Without the bearer token a report is 401; the document lists the report paths."""
    assert client.get("/api/v1/reports/link").status_code == 401
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {"/reports/{subject}", "/reports/{subject}/{key}/contacts"} <= set(paths)


@pytest.mark.parametrize(
    ("path", "params", "filename"),
    [
        ("link.csv", {}, "link.csv"),
        ("campaign/spring.csv", {}, "campaign-spring-hourly.csv"),
        ("campaign/spring/contacts", {"format": "csv"}, "campaign-spring-contacts.csv"),
        (
            "link/" + URL.replace("?", "%3F") + "/contacts.csv",
            {},
            "link-https_shop.example_sale_x_1-contacts.csv",
        ),
    ],
)
def test_csv_downloads_are_named_after_what_they_hold(
    client: TestClient, path: str, params: dict[str, str], filename: str
) -> None:
    """Each CSV is an attachment named by kind, key and view, so downloads stay apart."""
    response = get(client, path, **params)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'


@pytest.mark.parametrize(
    "sent",
    [
        URL,
        "HTTPS://Shop.Example:443/sale?utm_source=mail&x=1",
        "https://shop.example/sale?x=1#top",
    ],
)
def test_a_link_is_found_by_the_url_as_it_was_sent(client: TestClient, sent: str) -> None:
    """Tracking parameters, case, the default port or a fragment still find the link."""
    path = "link/" + sent.replace("?", "%3F").replace("&", "%26").replace("#", "%23")
    body = get(client, path).json()
    assert body["totals"]["key"] == URL
    contacts = get(client, path + "/contacts").json()
    assert {c["recipient"] for c in contacts["contacts"]} == {"a@x.io", "=b@x.io"}
