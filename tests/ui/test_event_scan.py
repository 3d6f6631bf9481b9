"""A filtered events page walks a bounded range of events (outside-in QA).

The type, verdict and rule filters have no index. On a store of 500,000 events, filtering
the events page by a rule that matched only old events walked every one of them: the page
took 2-10 s, and on SQLite, where the dashboard reads through the one connection that also
stores webhooks and trigger-link clicks, redirects waited as long (p50 5 ms -> 4.1 s, max
9.5 s, /tmp/qa/stall.py). Now such a page looks at most `SCAN` events and offers to search
older ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.storage.base import EventRecord, IngestBatch, Routed
from connector.storage.view_records import EventQuery
from connector.ui import views
from tests.storage.conftest import Store, pg_server, pg_url, store
from tests.storage.test_contract import run
from tests.support.config import settings_for
from tests.ui.test_dashboard import ADMIN, login

__all__ = ["pg_server", "pg_url", "store"]


def _event(n: int) -> EventRecord:
    payload = b'{"id": "e%d", "type": "email.clicked"}' % n
    return EventRecord(f"e{n}", "email.clicked", "cio", "customerio", 1.0, float(n), payload, b"{}")


def _seed(store: Store, count: int, vip: set[int]) -> None:
    events = [_event(n) for n in range(1, count + 1)]
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 1.0, events)))
    decided = [
        Routed(f"e{n}", b'{"suspected": false}', _decision(n in vip)) for n in range(1, count + 1)
    ]
    run(store, lambda tx: tx.complete_events(decided))


def _decision(vip: bool) -> dict[str, object]:
    matched = [{"rule": "vip", "actions": ["a"], "wait_for_settled": False}] if vip else []
    return {"matched": matched, "unmatched": []}


def test_event_seqs_and_floor_bound_a_page(store: Store) -> None:
    """`event_seqs` gives the first and last seq; `floor` keeps a page above a seq."""
    assert run(store, lambda tx: tx.event_seqs()) == (0, 0)
    _seed(store, 6, vip={1, 5})
    first, last = run(store, lambda tx: tx.event_seqs())
    assert last - first == 5
    ids = [
        e["event"]["id"]
        for e in run(store, lambda tx: tx.event_page(EventQuery(rule="vip", floor=first + 2)))
    ]
    assert ids == ["e5"]


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(views, "SCAN", 4)
    settings = settings_for(tmp_path, "http://127.0.0.1:9/unused", extra=ADMIN)
    app = create_app(settings, run_background=False)  # the test routes the events itself
    with TestClient(app, base_url="https://testserver") as test_client:
        login(test_client)
        yield test_client


@pytest.mark.parametrize(
    ("path", "pages"),
    [
        ("/ui/events?rule=vip", [[], [], ["e2"]]),
        ("/ui/events?type=email.clicked&rule=vip", [[], [], ["e2"]]),
        ("/ui/events?bot=no", [["e10", "e9", "e8", "e7"], ["e6", "e5", "e4", "e3"], ["e2", "e1"]]),
    ],
)
def test_a_filtered_page_searches_a_bounded_range_then_offers_older(
    client: TestClient, path: str, pages: list[list[str]]
) -> None:
    """Each filtered page looks at SCAN events (4 here) at most, newest first; 'Search older
    events' continues below them until the first event, where it stops offering more."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    _seed(store, 10, vip={2})
    for index, expected in enumerate(pages):
        page = client.get(path).text
        assert re.findall(r'data-event="(e\d+)"', page) == expected
        found = re.search(r'href="(/ui/events\?[^"]+)">Search older events', page)
        if index == len(pages) - 1:
            assert found is None
        else:
            assert found is not None
            path = found.group(1).replace("&amp;", "&")


def test_an_unfiltered_page_is_not_bounded(client: TestClient) -> None:
    """Without a type, verdict or rule filter the page reads the newest events by key."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    _seed(store, 10, vip=set())
    page = client.get("/ui/events?source=cio").text
    assert len(re.findall(r'data-event="(e\d+)"', page)) == 10
    assert "Search older events" not in page
