"""The deliveries page reads index ranges only, whatever the size of the outbox (QA).

With 500,000 delivered rows the page (the dashboard's Deliveries tab, no status chosen)
sorted the whole table by `updated_at` (0.40 s) and counted it (0.21 s) on SQLite's one
connection, the one that also stores webhooks and trigger-link clicks. Now it merges the
newest rows of each status (index `deliveries_status`) and counts each status up to a cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.storage.base import AttemptRecord, NewDelivery
from connector.ui import views
from tests.storage.conftest import Store, pg_server, pg_url, store
from tests.storage.test_contract import run
from tests.support.config import settings_for
from tests.ui.test_dashboard import ADMIN, login

__all__ = ["pg_server", "pg_url", "store"]
OUTCOMES = {"d": "delivered", "x": "dead", "p": None}  # by the id's first letter


def _seed(store: Store, ids: list[str]) -> None:
    """Deliveries whose `updated_at` follows their order in `ids` (the last is newest)."""
    rows = [NewDelivery(i, f"evt-{i}", "crm", ["r"], b"{}", 0.0) for i in ids]
    run(store, lambda tx: tx.add_deliveries(rows))
    for n, delivery in enumerate(ids):
        outcome = OUTCOMES[delivery[0]]
        at = 1000.0 + n
        if outcome is None:
            attempt = AttemptRecord(delivery, 1, at, "retry", 503, "HTTP 503", 1.0, at + 60)
        else:
            attempt = AttemptRecord(delivery, 1, at, outcome, 200, None, 1.0, None)
        run(store, lambda tx, attempt=attempt: tx.record_attempts([attempt]))


def test_delivery_counts_stop_at_the_cap(store: Store) -> None:
    """Each status is counted up to `cap` + 1 rows, so a count over the cap reads 'cap+'."""
    _seed(store, ["d1", "d2", "d3", "d4", "x1", "p1"])
    assert run(store, lambda tx: tx.delivery_counts(3)) == {
        "pending": 1,
        "dead": 1,
        "delivered": 4,
    }
    assert run(store, lambda tx: tx.delivery_counts(100)) == run(store, lambda tx: tx.counts())


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(views, "COUNTED", 3)
    monkeypatch.setattr(views, "LISTED", 4)
    settings = settings_for(tmp_path, "http://127.0.0.1:9/unused", extra=ADMIN)
    app = create_app(settings, run_background=False)  # no worker touches the rows
    with TestClient(app, base_url="https://testserver") as test_client:
        login(test_client)
        yield test_client


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/ui/deliveries", ["p1", "d5", "x2", "d4"]),
        ("/ui/deliveries?status=delivered", ["d5", "d4", "d3", "d2"]),
        ("/ui/deliveries?status=dead", ["x2", "x1"]),
    ],
    ids=["all", "delivered", "dead"],
)
def test_the_page_lists_the_newest_of_each_status_and_caps_counts(
    client: TestClient, path: str, shown: list[str]
) -> None:
    """'all' is the newest deliveries of every status merged; a count over the cap shows
    as 'N+' (here: 5 delivered, counted to 3)."""
    store = client.app.state.services.store  # type: ignore[attr-defined]
    _seed(store, ["x1", "d1", "d2", "d3", "d4", "x2", "d5", "p1"])
    page = client.get(path).text
    assert re.findall(r'data-delivery="([a-z]\d)"', page) == shown
    assert re.search(r"<b>3\+</b> delivered", page)
    assert re.search(r"<b>2</b> dead letters", page)
