"""Odd but real-shaped values from an ESP reach the downstream app on both backends, and
the click after them too: a NUL ("\\u0000") in a campaign id, a recipient or a URL is stored
as U+FFFD, a link whose URL runs to kilobytes is counted under a report key cut to fit, and
ids of kilobytes key the bot evidence by their start and a hash. (PostgreSQL's text cannot
hold a NUL and its index rows hold 2,704 bytes: the first two used to stop routing for every
event after such a click, the third set the click aside undelivered.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from connector.config import load_settings
from tests.storage.conftest import pg_server, pg_url
from tests.support.config import write_config
from tests.support.customerio import cio_event, post
from tests.support.servers import downstream, service_in_thread

__all__ = ["pg_server", "pg_url"]
pytestmark = pytest.mark.e2e
NUL, REPLACED = "\x00", "\ufffd"
TOKEN = "odd-values-admin-token-0123456789"
LONG_QUERY = "&".join(f"p{n}=" + "x7Kq" * 40 for n in range(200))  # ~33 KB, kept in canonical
# 3 KB that PostgreSQL cannot compress below an index row's 2,704 bytes
LONG_ID = "".join(hashlib.sha512(bytes([n])).hexdigest() for n in range(24))


def _odd(case: str) -> tuple[bytes, str]:
    """A click with the odd value, and the URL it was sent for."""
    url = f"https://shop.example.org/a?{LONG_QUERY}" if case == "long url" else "https://x.example/"
    data = json.loads(cio_event("clicked", "ann", 1_767_000_000, href=url))
    if case == "nul in campaign":
        data["data"]["campaign_id"] = f"spring{NUL}2026"
    elif case == "nul in recipient":
        data["data"]["customer_id"] = data["data"]["identifiers"]["id"] = f"ann{NUL}"
    elif case == "nul in url":
        url = data["data"]["href"] = f"https://shop.example.org/a{NUL}b"
    elif case == "long ids":
        data["data"]["delivery_id"] = data["data"]["customer_id"] = LONG_ID
        data["data"]["campaign_id"] = LONG_ID[::-1]
    return json.dumps(data).encode(), url


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "case", ["nul in campaign", "nul in recipient", "nul in url", "long url", "long ids"]
)
def test_an_odd_value_is_delivered_and_does_not_stop_the_next_click(
    backend: str, case: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with downstream() as app:
        extra = f'[worker]\nmode = "inline"\n[admin]\ntoken = "{TOKEN}"'
        config = write_config(tmp_path, app.url, extra=extra)
        if backend == "postgresql":
            sqlite_url = f"sqlite:///{tmp_path / 'connector.db'}"
            pg = request.getfixturevalue("pg_url")
            config.write_text(config.read_text().replace(sqlite_url, pg))
        odd, url = _odd(case)
        plain = cio_event("clicked", "bob", 1_767_000_001, href="https://shop.example.org/b")
        with service_in_thread(load_settings(config)) as base:
            assert [post(base, body).status_code for body in (odd, plain)] == [200, 200]
            received = [r.json() for r in app.wait_for(2)]
            report = httpx.get(
                f"{base}/api/v1/reports/link/{quote(url, safe='')}",
                headers={"authorization": f"Bearer {TOKEN}"},
            )
    by_recipient = {event["recipient"]["email"]: event for event in received}
    assert set(by_recipient) == {"ann@example.org", "bob@example.org"}
    sent = json.dumps(by_recipient["ann@example.org"], ensure_ascii=False)
    if case.startswith("nul"):
        assert NUL not in sent and REPLACED in sent
    elif case == "long url":  # the long link's report is found by the URL as sent, cut
        assert report.status_code == 200, report.text
        totals = report.json()["totals"]
        assert totals["clicks"] == 1 and len(totals["key"].encode()) <= 1000
        assert totals["key"].startswith("https://shop.example.org/a?p0=")
