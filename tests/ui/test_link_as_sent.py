"""A link's report found from the URL as it was sent (outside-in QA).

The admin API and `connector report link` find a link's report from a URL pasted as it
was sent (tracking parameters, upper-case host, default port, a fragment); the dashboard's
report page and its CSV answered 404 for the same URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from tests.support.config import settings_for
from tests.support.customerio import cio_event
from tests.support.signing import cio_headers
from tests.ui.test_dashboard import ADMIN, login, wait_for

CANONICAL = "https://shop.example/sale"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder: Path = tmp_path_factory.mktemp("as-sent")
    settings = settings_for(folder, "http://127.0.0.1:9/unused", extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        body = cio_event("clicked", "ana", time.time(), href=CANONICAL + "?utm_source=mail")
        answer = test_client.post("/webhooks/cio", content=body, headers=cio_headers(body))
        assert answer.status_code == 200
        login(test_client)
        assert CANONICAL in wait_for(test_client, "/ui/reports?subject=link", CANONICAL)
        yield test_client


@pytest.mark.parametrize(
    "sent",
    [
        CANONICAL,
        CANONICAL + "?utm_source=mail&utm_campaign=spring",
        "HTTPS://Shop.Example:443/sale#top",
    ],
    ids=["canonical", "tracking", "host-port-fragment"],
)
def test_the_report_and_its_csv_are_found_from_the_url_as_sent(
    client: TestClient, sent: str
) -> None:
    """The page (200, the canonical URL as title, the contact) and the CSV (its file
    named after the canonical link) answer for every spelling of the link."""
    query = urlencode({"subject": "link", "key": sent})
    page = client.get(f"/ui/report?{query}")
    assert page.status_code == 200
    assert f'<h1 class="wrap">{CANONICAL}</h1>' in page.text
    assert "ana@example.org" in page.text
    download = client.get(f"/ui/report.csv?{query}")
    assert download.status_code == 200
    assert "link-https_shop.example_sale-contacts.csv" in download.headers["content-disposition"]
    assert "ana@example.org" in download.text
