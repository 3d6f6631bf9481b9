"""Invisible and direction-changing characters from outside are shown, not obeyed.

A recipient, URL or ESP id is text from outside. With U+202E (right-to-left override) the
address `\u202egro.elpmaxe@evil` rendered as `live@example.org` on the events page; zero
width characters made two different contacts look the same. The terminal (`connector
report`) already showed such characters as escapes; the dashboard now does too.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.ui.present import shown
from tests.support.config import settings_for
from tests.support.customerio import cio_event
from tests.support.signing import cio_headers
from tests.ui.test_dashboard import ADMIN, TOKEN, login, wait_for

PERSON = "\u202egro.elpmaxe"  # its address reads "live@example.org" when obeyed
MESSAGE = "msg\u200b-1\u2066"  # a zero-width space and an unclosed isolate


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("hidden")
    settings = settings_for(folder, "http://127.0.0.1:9/unused", extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        body = cio_event(
            "clicked", PERSON, time.time(), href="https://shop.example/x", message=MESSAGE
        )
        answer = test_client.post("/webhooks/cio", content=body, headers=cio_headers(body))
        assert answer.status_code == 200
        login(test_client)
        assert "elpmaxe" in wait_for(test_client, "/ui/events", "elpmaxe")
        yield test_client


def _event_path(client: TestClient) -> str:
    page = client.get("/ui/events").text
    start = page.index('href="/ui/events/evt_') + len('href="')
    return page[start : page.index('"', start)]


@pytest.mark.parametrize(
    "path",
    [
        "/ui/events",
        "event",
        "/ui/reports?subject=message",
        "/ui/report?" + urlencode({"subject": "message", "key": MESSAGE}),
        "/ui/report?" + urlencode({"subject": "campaign", "key": "42"}),
    ],
    ids=["events", "event", "messages", "message-report", "campaign-contacts"],
)
def test_direction_and_zero_width_characters_are_shown_as_escapes(
    client: TestClient, path: str
) -> None:
    """No page sends U+202E, U+200B or U+2066 as such: each shows as its escape."""
    page = client.get(_event_path(client) if path == "event" else path)
    assert page.status_code == 200
    assert not {"\u202e", "\u200b", "\u2066"} & set(page.text)
    assert "\\u202egro.elpmaxe@example.org" in page.text or "\\u200b" in page.text


def test_signing_in_again_returns_to_a_key_holding_such_characters(client: TestClient) -> None:
    """A report whose key holds U+200B, opened without a session, is where the login form
    leads back to: the form carries the address percent-encoded, untouched by the escapes."""
    client.cookies.clear()
    target = "/ui/report?" + urlencode({"subject": "message", "key": MESSAGE})
    form = client.get(target).text
    assert "\u200b" not in form
    answer = client.post(
        "/ui/login", data={"password": TOKEN, "next": _hidden(form)}, follow_redirects=False
    )
    assert client.get(answer.headers["location"]).status_code == 200


def _hidden(page: str) -> str:
    start = page.index('name="next" value="') + len('name="next" value="')
    return html.unescape(page[start : page.index('"', start)])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ana@example.org", "ana@example.org"),
        ("é😀 ünïcode", "é😀 ünïcode"),
        ("\u202eevil", "\\u202eevil"),
        ("a\u200bb", "a\\u200bb"),
        ("bell\x07", "bell\\x07"),
        ('{\n  "a": 1\n}', '{\n  "a": 1\n}'),  # the event's JSON keeps its lines
        (42, 42),
    ],
)
def test_shown_escapes_only_invisible_characters(given: object, expected: object) -> None:
    """Printable text, line breaks and non-text values pass; format and control
    characters become escapes."""
    assert shown(given) == expected
