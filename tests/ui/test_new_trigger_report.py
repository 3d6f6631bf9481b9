"""The report of a trigger link nobody clicked yet (outside-in QA).

A link just created through the admin API is listed on the Reports page with 0 clicks; its
name led to a 404 page titled with the bare slug, without the link's name or destination.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from tests.support.config import settings_for
from tests.ui.test_dashboard import ADMIN, TOKEN, login

LINK = {"slug": "fresh", "name": "Fresh offer", "destination": "https://shop.example/fresh"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(tmp_path, "http://127.0.0.1:9/unused", extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        auth = {"authorization": f"Bearer {TOKEN}"}
        assert test_client.post("/api/v1/links", json=LINK, headers=auth).status_code == 201
        login(test_client)
        yield test_client


@pytest.mark.parametrize(
    ("key", "status", "shown"),
    [
        ("fresh", 200, ["Fresh offer", "/t/fresh → https://shop.example/fresh", "yet"]),
        ("nope", 404, ["nope", "No clicks recorded for this trigger."]),
    ],
    ids=["new-link", "unknown-slug"],
)
def test_a_trigger_link_without_clicks_has_its_report_page(
    client: TestClient, key: str, status: int, shown: list[str]
) -> None:
    """A known link without clicks: its name and destination, 'no clicks yet', a 200;
    an unknown slug stays a 404."""
    assert 'href="/ui/report?subject=trigger&amp;key=fresh"' in client.get("/ui/reports").text
    page = client.get(f"/ui/report?subject=trigger&key={key}")
    assert page.status_code == status
    for text in shown:
        assert text in page.text
