"""Long URLs in the Reports lists (outside-in QA).

A trigger link may send to a 4,000-character destination, and a link's key is its URL (up
to about 1,000 bytes): the Reports list printed each whole, so one link filled seven phone
screens. The list now shows the first 200 characters and `…`; the report page all of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from tests.support.config import settings_for
from tests.support.customerio import cio_event
from tests.support.signing import cio_headers
from tests.ui.test_dashboard import ADMIN, TOKEN, login, wait_for

DESTINATION = "https://shop.example/" + "d" * 3900
HREF = "https://shop.example/" + "h" * 900


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(tmp_path, "http://127.0.0.1:9/unused", extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        link = {"slug": "long", "name": "Long one", "destination": DESTINATION}
        auth = {"authorization": f"Bearer {TOKEN}"}
        assert test_client.post("/api/v1/links", json=link, headers=auth).status_code == 201
        body = cio_event("clicked", "ana", time.time(), href=HREF)
        answer = test_client.post("/webhooks/cio", content=body, headers=cio_headers(body))
        assert answer.status_code == 200
        login(test_client)
        yield test_client


@pytest.mark.parametrize(
    ("listing", "report", "url"),
    [
        ("/ui/reports?subject=trigger", "/ui/report?subject=trigger&key=long", DESTINATION),
        ("/ui/reports?subject=link", "/ui/report?subject=link&key=" + HREF, HREF),
    ],
    ids=["destination", "link-key"],
)
def test_a_list_shows_the_start_of_a_long_url_and_the_report_all_of_it(
    client: TestClient, listing: str, report: str, url: str
) -> None:
    """The list holds the URL's first 200 characters then `…`, never all of it."""
    page = wait_for(client, listing, url[:200])
    assert url[:199] + "…" in page
    assert url[:201] not in page.replace(f'data-key="{url}"', "")  # the key attribute
    assert url in client.get(report).text
