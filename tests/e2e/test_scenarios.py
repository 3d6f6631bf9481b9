"""Scenarios end to end: the real service (`connector serve` with its worker process) on
127.0.0.1, signed Customer.io webhooks, the admin API, a real downstream receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.config import write_config
from tests.support.customerio import cio_event, post
from tests.support.servers import Downstream, ServiceProcess, downstream, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TOKEN = "e2e-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
PRICING = "https://shop.example.org/pricing"


@contextmanager
def running(tmp_path: Path, rules: str) -> Iterator[tuple[ServiceProcess, Downstream]]:
    """The service with `rules` added to the base config, delivering to one downstream."""
    with downstream() as app:
        extra = f'\n[admin]\ntoken = "{TOKEN}"\n{rules}'
        config = write_config(
            tmp_path, app.url, extra=extra, bots="enabled = true\nsettle_seconds = 1"
        )
        service = ServiceProcess(config, free_port()).start()
        try:
            yield service, app
        finally:
            service.terminate()


def _of_type(app: Downstream, kind: str) -> list[dict[str, object]]:
    return [r.json() for r in app.received if r.json().get("type") == kind]


def _wait_until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def test_did_not_click_check_registered_through_the_api(tmp_path: Path) -> None:
    """5 delivered; 2 click the selected link, 1 another link, 1 only a scanner at delivery
    time: at T exactly 3 email.not_clicked events arrive, once each."""
    rules = f"""
[[rules]]
id = "nudge"
trigger = "not_clicked"
links = ["{PRICING}"]
actions = ["downstream"]
"""
    with running(tmp_path, rules) as (service, app):
        sent = time.time() - 600
        for person in ("ann", "bob", "cat", "eve"):
            assert post(service.url, cio_event("delivered", person, sent)).status_code == 200
        scanned = time.time()  # dan's gateway opens every link in the second after delivery
        assert post(service.url, cio_event("delivered", "dan", scanned)).status_code == 200
        for person, href, at in [
            ("ann", PRICING + "?utm_source=cio", sent + 300),
            ("bob", PRICING + "/", sent + 320),
            ("cat", "https://shop.example.org/blog", sent + 330),
            ("dan", PRICING, scanned + 1),
            ("dan", "https://shop.example.org/blog", scanned + 1),
            ("dan", "https://shop.example.org/about", scanned + 1),
            ("dan", "https://shop.example.org/contact", scanned + 1),
        ]:
            assert post(service.url, cio_event("clicked", person, at, href=href)).status_code == 200
        due = time.time() + 4
        check = httpx.post(
            f"{service.url}/api/v1/checks",
            json={"rule": "nudge", "send": {"campaign_id": "42"}, "at": _iso(due)},
            headers=AUTH,
        )
        assert check.status_code == 201, check.text
        assert check.json()["status"] == "pending"
        time.sleep(max(0.0, due - time.time()))
        _wait_until(lambda: len(_of_type(app, "email.not_clicked")) >= 3, 15)
        time.sleep(2)  # nothing more may come
        events = _of_type(app, "email.not_clicked")
        listed = httpx.get(f"{service.url}/api/v1/checks?campaign_id=42", headers=AUTH).json()
        dan = httpx.get(
            f"{service.url}/api/v1/events?type=email.clicked&limit=10", headers=AUTH
        ).json()
    dans = [e for e in dan["events"] if e["event"]["recipient"]["email"] == "dan@example.org"]
    assert dans
    assert all(e["event"]["bot"]["suspected"] for e in dans)
    people = sorted(e["recipient"]["email"] for e in events)  # type: ignore[index]
    assert people == ["cat@example.org", "dan@example.org", "eve@example.org"]
    assert {e["scenario"]["rule"] for e in events} == {"nudge"}  # type: ignore[index]
    assert [c["status"] for c in listed["checks"]] == ["done"]
    assert listed["checks"][0]["emitted"] == 3


def test_a_wait_ends_in_click_or_timeout_exactly_once(tmp_path: Path) -> None:
    """Started by deliveries: ann clicks in time (on_click), bob never (on_timeout)."""
    rules = f"""
[[rules]]
id = "confirm"
trigger = "wait"
timeout = "3s"
links = ["{PRICING}"]
on_click = ["downstream"]
on_timeout = ["downstream"]
"""
    with running(tmp_path, rules) as (service, app):
        now = time.time()
        for person in ("ann", "bob"):
            post(service.url, cio_event("delivered", person, now))
        time.sleep(0.5)
        post(service.url, cio_event("clicked", "ann", now + 1, href=PRICING))
        _wait_until(lambda: len(_of_type(app, "email.click_timeout")) >= 1, 15)
        time.sleep(4)  # ann's wait must not time out as well
        clicks = _of_type(app, "email.clicked")  # the catch-all rule sends each click too
        timeouts = _of_type(app, "email.click_timeout")
        stored = httpx.get(f"{service.url}/api/v1/events?type=email.clicked", headers=AUTH)
    assert [t["recipient"]["email"] for t in timeouts] == ["bob@example.org"]  # type: ignore[index]
    assert timeouts[0]["scenario"]["trigger"] == "wait"  # type: ignore[index]
    # ann's click matched the wait (and the catch-all: one action, so one delivery)
    assert [c["recipient"]["email"] for c in clicks] == ["ann@example.org"]  # type: ignore[index]
    matched = [m["rule"] for m in stored.json()["events"][0]["decision"]["immediate"]["matched"]]
    assert matched == ["all-clicks", "confirm"]


def test_kill_9_while_timers_are_due_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """30 per-delivery checks fall due around a `kill -9`; after a restart each recipient
    has exactly one stored email.not_clicked event, and downstream never gets a second
    event for anyone (a delivery leased at the kill is retried when its lease ends, under
    the same event id)."""
    rules = """
[[rules]]
id = "nudge"
trigger = "not_clicked"
after = "2s"
actions = ["downstream"]
"""
    people = [f"p{n:02d}" for n in range(30)]
    with downstream() as app:
        extra = f'\n[admin]\ntoken = "{TOKEN}"\n{rules}'
        config = write_config(
            tmp_path, app.url, extra=extra, bots="enabled = true\nsettle_seconds = 1"
        )
        service = ServiceProcess(config, free_port()).start()
        try:
            now = time.time()
            for person in people:
                assert post(service.url, cio_event("delivered", person, now)).status_code == 200
            _wait_until(lambda: len(app.received) >= 5, 10)  # mid-stream
            service.kill9()
            time.sleep(1)
            service = ServiceProcess(config, service.port).start()

            def stored() -> list[dict[str, object]]:
                page = httpx.get(
                    f"{service.url}/api/v1/events?type=email.not_clicked&limit=100", headers=AUTH
                ).json()
                return [e["event"] for e in page["events"]]

            _wait_until(lambda: len(stored()) >= 30, 20)
            time.sleep(2)
            events = stored()
        finally:
            service.terminate()
        received = _of_type(app, "email.not_clicked")
    recipients = sorted(e["recipient"]["email"] for e in events)  # type: ignore[index]
    assert recipients == sorted(f"{p}@example.org" for p in people)  # one each, none lost
    stored_ids = {e["id"] for e in events}
    by_person: dict[str, set[str]] = {}
    for event in received:
        by_person.setdefault(event["recipient"]["email"], set()).add(event["id"])  # type: ignore[index, arg-type]
        assert event["id"] in stored_ids
    assert all(len(ids) == 1 for ids in by_person.values())  # never a second event
    assert len(by_person) >= 25  # the rest wait for their lease


@pytest.mark.parametrize(("once_per", "expected"), [("event", 3), ("message", 2), ("recipient", 1)])
def test_once_per_and_first_response(tmp_path: Path, once_per: str, expected: int) -> None:
    """Three clicks by ann (two on one message, one on another): once_per decides how many
    fire; in a group, a second offer clicked later loses to the first."""
    rules = f"""
[[rules]]
id = "counted"
links = ["{PRICING}"]
once_per = "{once_per}"
actions = ["downstream"]

[[rules]]
id = "offer-a"
group = "offers"
links = ["https://shop.example.org/a"]
actions = ["downstream"]

[[rules]]
id = "offer-b"
group = "offers"
links = ["https://shop.example.org/b"]
actions = ["downstream"]
"""
    with running(tmp_path, rules) as (service, _app):
        now = time.time()
        for body in [
            cio_event("clicked", "ann", now, href=PRICING, message="m1"),
            cio_event("clicked", "ann", now + 1, href=PRICING, message="m1"),
            cio_event("clicked", "ann", now + 2, href=PRICING, message="m2"),
            cio_event("clicked", "ann", now + 3, href="https://shop.example.org/b", message="m1"),
            cio_event("clicked", "ann", now + 4, href="https://shop.example.org/a", message="m1"),
        ]:
            assert post(service.url, body).status_code == 200
            time.sleep(0.2)

        def routed() -> dict[str, list[dict[str, object]]]:
            return httpx.get(f"{service.url}/api/v1/events?limit=50", headers=AUTH).json()

        _wait_until(lambda: all(e["processed"] for e in routed()["events"]), 20)
        events = routed()
    fired: dict[str, int] = {}
    for stored in events["events"]:
        for match in (stored["decision"] or {}).get("immediate", {}).get("matched", []):
            fired[match["rule"]] = fired.get(match["rule"], 0) + 1
    assert fired.get("counted", 0) == expected
    assert fired.get("offer-b") == 1
    assert "offer-a" not in fired
    a_click = next(e for e in events["events"] if e["event"]["link"]["url"].endswith("/a"))
    reasons = {u["rule"]: u["reason"] for u in a_click["decision"]["immediate"]["unmatched"]}
    assert reasons["offer-a"].startswith("lost to first response: rule 'offer-b'")
