"""Scenarios with an ESP's ids of kilobytes, on both backends: a delivery whose message id,
campaign id and recipient run to kilobytes starts its wait and its did-not-click check,
the click answers the wait, the timeout and the check fire, the admin API finds the send
by its id as the ESP gave it, and the next event is routed too. (PostgreSQL's index rows
hold 2,704 bytes: such a delivery used to fail `recipients_pkey` and be set aside while
SQLite delivered it; the scenario tables now keep a long key as its start and a hash.)"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import httpx
import pytest

from connector.config import load_settings
from tests.storage.conftest import pg_server, pg_url
from tests.support.config import write_config
from tests.support.customerio import cio_event, post
from tests.support.servers import Downstream, downstream, service_in_thread

__all__ = ["pg_server", "pg_url"]
pytestmark = pytest.mark.e2e
TOKEN = "long-keys-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
PRICING = "https://shop.example.org/pricing"
# kilobytes of hex that PostgreSQL cannot compress below an index row's 2,704 bytes
LONG = "".join(hashlib.sha512(bytes([n])).hexdigest() for n in range(12))  # 1.5 KB
MESSAGE, CAMPAIGN = f"msg-{LONG}", f"cmp-{LONG[::-1]}"
RULES = f"""
[[rules]]
id = "confirm"
trigger = "wait"
timeout = "2s"
links = ["{PRICING}"]
on_click = ["downstream"]
on_timeout = ["downstream"]

[[rules]]
id = "nudge"
trigger = "not_clicked"
after = "2s"
on_timeout = []
actions = ["downstream"]
"""


def _event(metric: str, person: str, at: float, href: str | None = None) -> bytes:
    """A Customer.io event about `person` (a long address) of the long message and campaign."""
    data = json.loads(cio_event(metric, person, at, href=href, message=MESSAGE))
    data["data"]["campaign_id"] = CAMPAIGN
    data["data"]["identifiers"]["email"] = data["data"]["recipient"] = f"{person}{LONG}@ex.org"
    return json.dumps(data).encode()


def _of_type(app: Downstream, kind: str) -> list[str]:
    """Who the received events of `kind` are about (the start of the address)."""
    events = [r.json() for r in app.received if r.json().get("type") == kind]
    return sorted(e["recipient"]["email"][:3] for e in events)


def _until(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kilobyte_ids_start_answer_and_time_out_scenarios(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """ann clicks in time (on_click), bob never (timeout, not_clicked); cat's plain event
    after them is routed; the checks are listed by the full message id."""
    with downstream() as app:
        extra = f'[worker]\nmode = "inline"\n[admin]\ntoken = "{TOKEN}"\n{RULES}'
        config = write_config(tmp_path, app.url, extra=extra, bots="enabled = false")
        if backend == "postgresql":
            sqlite_url = f"sqlite:///{tmp_path / 'connector.db'}"
            config.write_text(
                config.read_text().replace(sqlite_url, request.getfixturevalue("pg_url"))
            )
        with service_in_thread(load_settings(config)) as base:
            now = time.time()
            answers = [
                post(base, _event("delivered", who, now)).status_code for who in ("ann", "bob")
            ]
            answers.append(
                post(base, _event("clicked", "ann", now + 0.5, href=PRICING)).status_code
            )
            _until(
                lambda: _of_type(app, "email.not_clicked") and _of_type(app, "email.click_timeout")
            )
            answers.append(
                post(base, cio_event("clicked", "cat", now + 1, href=PRICING)).status_code
            )
            _until(lambda: "cat" in _of_type(app, "email.clicked"))
            checks = httpx.get(
                f"{base}/api/v1/checks", params={"message_id": MESSAGE}, headers=AUTH
            )
    assert answers == [200, 200, 200, 200]
    assert _of_type(app, "email.clicked") == ["ann", "cat"]  # all-clicks and on_click: one action
    assert _of_type(app, "email.click_timeout") == ["bob"]
    assert _of_type(app, "email.not_clicked") == ["bob"]
    assert checks.status_code == 200, checks.text
    statuses = sorted((c["rule"], c["status"]) for c in checks.json()["checks"])
    assert statuses == [
        ("confirm", "clicked"), ("confirm", "timed_out"), ("nudge", "done"), ("nudge", "done"),
    ]  # fmt: skip
