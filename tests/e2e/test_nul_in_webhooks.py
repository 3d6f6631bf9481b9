"""An ESP's NUL ("\\u0000") in a campaign id, a recipient or a URL is stored as U+FFFD, so the
event is routed and delivered on both backends (PostgreSQL's text cannot hold a NUL: the
first such event used to stop routing for every event after it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.config import load_settings
from tests.storage.conftest import pg_server, pg_url
from tests.support.config import write_config
from tests.support.customerio import cio_event, post
from tests.support.servers import downstream, service_in_thread

__all__ = ["pg_server", "pg_url"]
pytestmark = pytest.mark.e2e
NUL, REPLACED = "\x00", "\ufffd"


def _with_nul(body: bytes, where: str) -> bytes:
    data = json.loads(body)
    if where == "campaign":
        data["data"]["campaign_id"] = f"spring{NUL}2026"
    elif where == "recipient":
        data["data"]["customer_id"] = f"ann{NUL}"
        data["data"]["identifiers"]["id"] = f"ann{NUL}"
    else:
        data["data"]["href"] = f"https://shop.example.org/a{NUL}b"
    return json.dumps(data).encode()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("where", ["campaign", "recipient", "url"])
def test_a_nul_from_the_esp_is_delivered_as_a_replacement_character(
    backend: str, where: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The click with a NUL and a plain click after it both reach the downstream app."""
    with downstream() as app:
        config = write_config(tmp_path, app.url, extra='[worker]\nmode = "inline"')
        if backend == "postgresql":
            sqlite_url = f"sqlite:///{tmp_path / 'connector.db'}"
            pg = request.getfixturevalue("pg_url")
            config.write_text(config.read_text().replace(sqlite_url, pg))
        click = cio_event("clicked", "ann", 1_767_000_000, href="https://x.example/")
        odd = _with_nul(click, where)
        plain = cio_event("clicked", "bob", 1_767_000_001, href="https://shop.example.org/b")
        with service_in_thread(load_settings(config)) as base:
            assert [post(base, body).status_code for body in (odd, plain)] == [200, 200]
            received = [r.json() for r in app.wait_for(2)]
    by_recipient = {event["recipient"]["email"]: event for event in received}
    assert set(by_recipient) == {"ann@example.org", "bob@example.org"}
    sent = json.dumps(by_recipient["ann@example.org"], ensure_ascii=False)
    assert NUL not in sent and REPLACED in sent
