"""End to end: trigger-link clicks through the real app on 127.0.0.1, a real SQLite file and a
real downstream HTTP server."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import orjson
import pytest

from connector.links.tokens import sign
from tests.support.config import settings_for
from tests.support.servers import downstream, service_in_thread

pytestmark = pytest.mark.e2e
SECRET = "link-secret-for-tests-0123456789"
LINKS = f"""
[trigger_links]
secret = "{SECRET}"

[[links]]
slug = "spring"
name = "Spring picks"
destination = "https://shop.example.org/spring?who={{contact}}&v={{values.variant}}"
values = {{ variant = "b" }}

[[links]]
slug = "gone"
destination = "https://shop.example.org/old"
enabled = false

[[rules]]
id = "link-clicks"
event = ["link.clicked"]
actions = ["downstream"]
"""
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)


def _service(folder: Path, downstream_url: str) -> AbstractContextManager[str]:
    return service_in_thread(settings_for(folder, downstream_url, extra=LINKS))


def _click(base: str, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    headers.setdefault("user-agent", BROWSER)
    return httpx.request(method, f"{base}{path}", headers=headers, timeout=10)


def _stored(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE type = 'link.clicked' ORDER BY seq")
        return [orjson.loads(row[0]) for row in rows]


def test_a_click_redirects_and_is_delivered_as_link_clicked(tmp_path: Path) -> None:
    """A signed click gets a 302 to the filled destination; the event is stored and delivered."""
    token = sign(SECRET.encode(), "spring", "u_42")
    with downstream() as app, _service(tmp_path, app.url) as base:
        response = _click(base, f"/t/spring?c={token}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://shop.example.org/spring?who=u_42&v=b"
        assert response.headers["cache-control"] == "no-store"
        assert len(_stored(tmp_path / "connector.db")) == 1  # stored before the answer
        received = app.wait_for(1)
    event = received[0].json()
    assert event["type"] == "link.clicked"
    assert event["recipient"]["id"] == "u_42"
    assert event["trigger"] == {"slug": "spring", "name": "Spring picks", "contact_verified": True}
    assert event["link"]["id"] == "spring"
    assert event["client"]["http_method"] == "GET"
    assert event["bot"]["suspected"] is False and event["bot"]["version"]


def test_head_preview_and_prefetch_are_suspected(tmp_path: Path) -> None:
    """A HEAD, a link-preview agent and a prefetch are redirected but scored as bots."""
    with downstream() as app, _service(tmp_path, app.url) as base:
        assert _click(base, "/t/spring", "HEAD").status_code == 302
        preview = _click(base, "/t/spring", **{"user-agent": "Slackbot-LinkExpanding 1.0"})
        assert preview.status_code == 302
        assert _click(base, "/t/spring", **{"sec-purpose": "prefetch"}).status_code == 302
        received = app.wait_for(3)
    verdicts = [r.json()["bot"] for r in received]
    assert all(bot["suspected"] for bot in verdicts)
    codes = {reason["code"] for bot in verdicts for reason in bot["reasons"]}
    assert {"http.head", "http.prefetch", "ua.scanner"} <= codes


def test_bad_input_never_answers_500(tmp_path: Path) -> None:
    """Tampered token: anonymous click to the base destination; disabled 410; unknown 404."""
    token = sign(SECRET.encode(), "spring", "u_42")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_link = sign(SECRET.encode(), "other", "u_42")
    with downstream() as app, _service(tmp_path, app.url) as base:
        for bad in (tampered, other_link, "garbage", "a.b.c", "%ff"):
            response = _click(base, f"/t/spring?c={bad}")
            assert response.status_code == 302
            assert response.headers["location"] == "https://shop.example.org/spring"
        assert _click(base, "/t/gone").status_code == 410
        assert _click(base, "/t/nope").status_code == 404
        assert _click(base, "/t/bad%20slug").status_code == 404
        assert _click(base, "/t/" + "x" * 500).status_code == 404
        app.wait_for(5)
    stored = _stored(tmp_path / "connector.db")
    assert len(stored) == 5
    for event in stored:
        assert event["recipient"] == {"email": None, "id": None}
        assert event["trigger"]["contact_verified"] is False  # type: ignore[index]
