"""The dashboard in-process (Starlette's TestClient): auth, CSRF, pages and replay."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from connector.app import create_app
from connector.errors import StorageUnavailable
from connector.ui.session import COOKIE, Sessions
from connector.ui.views import Pages
from tests.support.config import settings_for
from tests.support.customerio import cio_event
from tests.support.servers import Downstream, downstream
from tests.support.signing import cio_headers

TOKEN = "ui-admin-token-0123456789"
ADMIN = f'\n[admin]\ntoken = "{TOKEN}"\n'


@pytest.fixture
def sink() -> Iterator[Downstream]:
    with downstream([400]) as server:
        yield server


@pytest.fixture
def client(tmp_path: Path, sink: Downstream) -> Iterator[TestClient]:
    settings = settings_for(tmp_path, sink.url, extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


def login(client: TestClient) -> str:
    """Sign in and return the CSRF token the pages carry."""
    response = client.post("/ui/login", data={"password": TOKEN}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/ui/events")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


@contextmanager
def without_session(client: TestClient) -> Iterator[TestClient]:
    """The same client (and its app's one event loop) with no cookies for a while: a second
    TestClient on the app would run it on a loop of its own, beside the lifespan's."""
    saved = list(client.cookies.jar)
    client.cookies.clear()
    try:
        yield client
    finally:
        client.cookies.clear()
        for cookie in saved:
            client.cookies.jar.set_cookie(cookie)


def click(client: TestClient, person: str = "ana") -> None:
    body = cio_event("clicked", person, time.time(), href="https://shop.example/spring")
    assert client.post("/webhooks/cio", content=body, headers=cio_headers(body)).status_code == 200


def wait_for(client: TestClient, path: str, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(path).text
        if text in page or time.monotonic() > deadline:
            return page
        time.sleep(0.05)


def test_the_dashboard_is_off_without_an_admin_token(tmp_path: Path) -> None:
    """No `[admin] token`: every /ui path is a 404."""
    with TestClient(create_app(settings_for(tmp_path, "http://127.0.0.1:9/x"))) as off:
        assert off.get("/ui/events").status_code == 404
        assert off.post("/ui/login", data={"password": ""}).status_code == 404


def test_pages_redirect_to_login_without_a_session(client: TestClient) -> None:
    """A page without a session redirects to the login form, keeping where it was going."""
    response = client.get("/ui/deliveries?status=dead", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fdeliveries%3Fstatus%3Ddead"


def test_a_wrong_token_stays_on_the_login_page(client: TestClient) -> None:
    """A wrong password answers the form again (401) and sets no cookie."""
    response = client.post("/ui/login", data={"password": "nope"}, follow_redirects=False)
    assert response.status_code == 401
    assert "Wrong admin token" in response.text
    assert COOKIE not in response.cookies
    assert TOKEN not in response.text


def test_login_sets_a_secure_http_only_expiring_cookie(client: TestClient) -> None:
    """The session cookie is HttpOnly, SameSite=Lax, Secure, scoped to /ui and expiring."""
    response = client.post(
        "/ui/login", data={"password": TOKEN, "next": "/ui/sources"}, follow_redirects=False
    )
    assert response.headers["location"] == "/ui/sources"
    cookie = response.headers["set-cookie"].lower()
    for part in ("httponly", "samesite=lax", "secure", "path=/ui", "max-age=28800"):
        assert part in cookie
    assert TOKEN.lower() not in cookie


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/ui/",
        "/api/v1/x",
        "/ui/../api/v1/links",
        "/ui/%2e%2e/api/v1/links",
        "/ui/\\evil.example",
    ],
)
def test_login_never_redirects_off_the_dashboard(client: TestClient, target: str) -> None:
    """`next` outside /ui falls back to the events page (no open redirect)."""
    response = client.post(
        "/ui/login", data={"password": TOKEN, "next": target}, follow_redirects=False
    )
    assert response.headers["location"] == "/ui/events"


@pytest.mark.parametrize(
    ("scheme", "host", "headers", "secure"),
    [
        ("http", "127.0.0.1", [], False),  # a local run without TLS
        ("http", "10.0.0.7", [], True),
        ("https", "127.0.0.1", [], True),
        ("http", "127.0.0.1", [(b"x-forwarded-proto", b"https")], True),  # a local TLS proxy
        ("http", "::1", [(b"forwarded", b"for=1.2.3.4; proto=https")], True),
        ("http", "127.0.0.1", [(b"x-forwarded-proto", b"http")], False),
    ],
)
def test_only_plain_http_on_loopback_gets_a_cookie_without_secure(
    scheme: str, host: str, headers: list[tuple[bytes, bytes]], secure: bool
) -> None:
    """Secure is dropped only for plain http from this machine with no TLS proxy in front."""
    scope = {"type": "http", "scheme": scheme, "client": (host, 5), "headers": headers}
    scope |= {"server": ("127.0.0.1", 80), "path": "/", "query_string": b""}
    response = Response()
    Sessions(TOKEN).start(Request(scope), response)
    assert ("secure" in response.headers["set-cookie"].lower()) is secure


def test_a_tampered_or_foreign_cookie_is_no_session(client: TestClient) -> None:
    """A cookie not signed with this token's key is ignored."""
    forged = Sessions("another-token").start
    response = Response()
    forged(Request({"type": "http", "scheme": "https", "headers": [], "path": "/"}), response)
    value = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    with without_session(client) as other:
        other.cookies.set(COOKIE, value, path="/ui")
        assert other.get("/ui/events", follow_redirects=False).status_code == 303
        other.cookies.set(COOKIE, value + "x", path="/ui")
        assert other.get("/ui/events", follow_redirects=False).status_code == 303


def test_a_click_shows_on_the_events_page_and_its_detail(client: TestClient) -> None:
    """A signed click is listed with its verdict and rule decision, and has a detail page."""
    login(client)
    click(client)
    page = wait_for(client, "/ui/events", "all-clicks →")
    assert "ana@example.org" in page
    assert "https://shop.example/spring" in page
    event_id = re.search(r'data-event="([^"]+)"', page)
    assert event_id
    detail = client.get(f"/ui/events/{event_id.group(1)}")
    assert detail.status_code == 200
    assert "Bot reasons" in detail.text
    assert client.get("/ui/events/nope").status_code == 404


def test_filters_narrow_the_events_page(client: TestClient) -> None:
    """Filtering by source, type, verdict and rule keeps only matching events."""
    login(client)
    click(client)
    wait_for(client, "/ui/events", "all-clicks →")
    assert "data-event" in client.get("/ui/events?source=cio&rule=all-clicks&bot=no").text
    assert "data-event" not in client.get("/ui/events?type=email.opened").text
    assert "data-event" not in client.get("/ui/events?bot=yes").text
    assert "No events match" in client.get("/ui/events?bot=yes&before=x").text
    # Trigger-link clicks (source "links") can be picked too, beside the configured sources.
    page = client.get("/ui/events").text
    sources = re.search(r'<select name="source">(.*?)</select>', page, re.DOTALL)
    assert sources is not None
    assert re.findall(r'<option value="([^"]*)"', sources[1]) == ["", "cio", "links"]


def test_replay_needs_the_sessions_csrf_token(client: TestClient) -> None:
    """Replay with a missing or forged CSRF token is 403; without a session it is the
    login form."""
    csrf = login(client)
    for data in ({"id": "all-dead"}, {"id": "all-dead", "csrf": "0" * len(csrf)}):
        assert client.post("/ui/deliveries/replay", data=data).status_code == 403
    assert client.post("/ui/logout", data={"csrf": "forged"}).status_code == 403
    data = {"id": "all-dead", "csrf": csrf}
    with without_session(client) as anonymous:
        refused = anonymous.post("/ui/deliveries/replay", data=data, follow_redirects=False)
    assert refused.headers["location"] == "/ui/login?next=%2Fui%2Fdeliveries"


def test_a_dead_letter_is_replayed_and_delivered(client: TestClient, sink: Downstream) -> None:
    """A delivery refused with 400 is dead; replaying it from the page delivers it."""
    csrf = login(client)
    click(client)
    page = wait_for(client, "/ui/deliveries?status=dead", "HTTP 400")
    delivery = re.search(r'data-delivery="([^"]+)"', page)
    assert delivery
    response = client.post("/ui/deliveries/replay", data={"id": delivery.group(1), "csrf": csrf})
    assert "1 delivery queued again" in response.text
    assert len(sink.wait_for(2)) == 2
    assert "data-delivery" in wait_for(client, "/ui/deliveries?status=delivered", "data-delivery")
    replayed = client.post("/ui/deliveries/replay", data={"id": "all-dead", "csrf": csrf})
    assert "0 deliveries queued again" in replayed.text


def test_sources_show_refused_requests_and_counts(client: TestClient) -> None:
    """A wrongly signed webhook shows as a refused request on the sources page."""
    login(client)
    click(client)
    body = cio_event("clicked", "bob", time.time(), href="https://shop.example/")
    wrong = cio_headers(body, key="wrong-secret")
    assert client.post("/webhooks/cio", content=body, headers=wrong).status_code == 401
    page = client.get("/ui/sources").text
    assert re.search(r"Accepted</dt><dd>1<", page)
    assert "signature: 1" in page
    assert "the secret at the ESP and this source&#39;s signing_keys differ" in page


def test_scenarios_page_and_logout(client: TestClient) -> None:
    """The scenarios page renders; logging out ends the session."""
    csrf = login(client)
    assert "Scheduled checks" in client.get("/ui/scenarios?status=bogus").text
    assert client.get("/ui/", follow_redirects=False).headers["location"] == "/ui/events"
    response = client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/ui/login"
    assert client.get("/ui/events", follow_redirects=False).status_code == 303


def test_campaign_report_with_chart_and_contacts(client: TestClient) -> None:
    """A click counts in its campaign's report: totals (one click, then two, each counted
    in words that agree with it), an hourly bar and the contact."""
    login(client)
    click(client, "rae")
    page = wait_for(client, "/ui/reports?subject=campaign", 'data-key="42"')
    assert "<b>1</b> click</span><span><b>1</b> contact</span>" in page
    report = client.get("/ui/report?subject=campaign&key=42")
    assert "rae@example.org" in report.text
    assert '<rect class="all"' in report.text
    assert "<b>1</b> click</div>" in report.text
    assert "<b>1</b> unique contact</div>" in report.text
    click(client, "sam")
    page = wait_for(client, "/ui/reports?subject=campaign", "<b>2</b> clicks")
    assert "<b>2</b> clicks</span><span><b>2</b> contacts</span>" in page
    report = client.get("/ui/report?subject=campaign&key=42")
    assert "<b>2</b> unique contacts</div>" in report.text
    missing = client.get("/ui/report?subject=link&key=https://nowhere.example/")
    assert missing.status_code == 404
    assert "No trigger links with clicks yet" in client.get("/ui/reports").text


def test_a_report_downloads_its_contacts_as_csv(client: TestClient) -> None:
    """The report page links a CSV of every contact: an attachment, formula cells defused."""
    login(client)
    for person in ("rae", "=cmd"):
        click(client, person)
    page = wait_for(client, "/ui/report?subject=campaign&key=42", "=cmd@example.org")
    link = re.search(r'href="(/ui/report\.csv\?[^"]+)" download', page)
    assert link
    download = client.get(link.group(1).replace("&amp;", "&"))
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = 'attachment; filename="campaign-42-contacts.csv"'
    assert download.headers["content-disposition"] == disposition
    rows = download.text.splitlines()
    assert rows[0] == "recipient,clicks,human_clicks,first_at,last_at"
    assert sorted(row.split(",")[0] for row in rows[1:]) == ["'=cmd@example.org", "rae@example.org"]
    assert client.get("/ui/report.csv?subject=campaign&key=nope").status_code == 404
    with without_session(client) as anonymous:
        refused = anonymous.get(link.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert refused.status_code == 303


@pytest.mark.parametrize(("made", "said"), [(199, False), (200, True)])
def test_the_trigger_list_says_when_it_is_cut(client: TestClient, made: int, said: bool) -> None:
    """Past the links the page lists, it says so instead of silently leaving some out."""
    login(client)
    auth = {"authorization": f"Bearer {TOKEN}"}
    for n in range(made):
        link = {"slug": f"l{n:03}", "name": f"L{n}", "destination": "https://shop.example/"}
        assert client.post("/api/v1/links", json=link, headers=auth).status_code == 201
    page = client.get("/ui/reports").text
    assert ("Only the first 200 trigger links (by slug) are shown here." in page) is said


@pytest.mark.parametrize(
    ("error", "status"),
    [(StorageUnavailable("the database is down"), 503), (ValueError("secret detail"), 500)],
)
def test_a_store_outage_or_a_bug_is_a_plain_answer(
    tmp_path: Path, sink: Downstream, monkeypatch: pytest.MonkeyPatch, error: Exception, status: int
) -> None:
    """The database down is a 503 page saying so (retry later); a bug a 500 naming only its
    type; neither is the server's bare error."""

    async def failing(self: Pages, request: Request, session: object) -> Response:
        raise error

    monkeypatch.setattr(Pages, "events", failing)
    settings = settings_for(tmp_path, sink.url, extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as c:
        signed_in = c.post("/ui/login", data={"password": TOKEN}, follow_redirects=False)
        assert signed_in.status_code == 303
        response = c.get("/ui/events")
    assert response.status_code == status
    assert response.text.startswith(str(status)) and "secret detail" not in response.text
