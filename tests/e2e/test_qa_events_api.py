"""`GET /api/v1/events?type=` looks through a bounded range of events (outside-in QA).

`type` has no index. On a store of 500,000 events, a script polling once a second for
`email.click_timeout` events (the scenario engine's output) made each call walk the whole
table: 2.6 s a call, and on SQLite, whose one connection also stores webhooks and
trigger-link clicks, redirects waited up to 4.1 s (p50 6.5 ms; /tmp/qa/stall3.py). A page
filtered by type now looks through at most `SCAN` events and hands on `next_before`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from connector.admin import events_api
from connector.app import create_app
from connector.config import parse_settings
from connector.storage.base import EventRecord, IngestBatch

TOKEN = "qa-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
TIMEOUTS = {2, 3}  # the seq-ordered events that are email.click_timeout; the rest clicks


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(events_api, "SCAN", 4)
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path / 'qa.db'}"},
        "worker": {"mode": "inline"},
        "actions": [{"id": "log", "type": "log"}],
        "rules": [{"id": "live", "actions": ["log"]}],
        "admin": {"token": TOKEN},
    }
    app = create_app(parse_settings(data, env={}), run_background=False)
    with TestClient(app) as test_client:
        store = app.state.services.store
        events = [_event(n) for n in range(1, 11)]
        store.transaction_sync(lambda tx: tx.ingest(IngestBatch("cio", 1.0, events)))
        yield test_client


def _event(n: int) -> EventRecord:
    kind = "email.click_timeout" if n in TIMEOUTS else "email.clicked"
    payload = b'{"id": "e%d", "type": "%s"}' % (n, kind.encode())
    return EventRecord(f"e{n}", kind, "cio", "customerio", 1.0, float(n), payload, b"{}")


def _walk(client: TestClient, query: str) -> list[list[str]]:
    """Every page of `query`, following next_before until it is null."""
    pages: list[list[str]] = []
    before = ""
    while len(pages) < 20:
        body = client.get(f"/api/v1/events?{query}{before}", headers=AUTH).json()
        pages.append([e["event"]["id"] for e in body["events"]])
        if body["next_before"] is None:
            return pages
        before = f"&before={body['next_before']}"
    raise AssertionError(f"no end after 20 pages: {pages}")


@pytest.mark.parametrize(
    ("query", "pages"),
    [
        ("type=email.click_timeout&limit=50", [[], ["e3"], ["e2"]]),
        ("type=email.click_timeout&limit=1", [[], ["e3"], ["e2"], []]),
        ("type=email.clicked&limit=50", [["e10", "e9", "e8", "e7"], ["e6", "e5", "e4"], ["e1"]]),
        ("limit=4", [["e10", "e9", "e8", "e7"], ["e6", "e5", "e4", "e3"], ["e2", "e1"]]),
    ],
    ids=["rare-type", "rare-type-limit-1", "common-type", "no-type"],
)
def test_a_type_filtered_page_looks_through_scan_events_and_hands_on(
    client: TestClient, query: str, pages: list[list[str]]
) -> None:
    """With SCAN = 4 a type-filtered page reads 4 events at most; following next_before
    reaches every match once, newest first; without a type, paging is as before."""
    assert _walk(client, query) == pages
