"""A session that ended (8 hours on, or signed out in another tab) and a form pressed on an
old page (outside-in QA).

Pressing Replay or Log out on a page left open past the 8-hour session answered a bare
"403 Forbidden: sign in first" text page with no way on; now it is the login form, which
leads back to the page the form was on, and the action is not done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import create_app
from connector.ui.session import COOKIE, MAX_AGE
from tests.support.config import settings_for
from tests.ui.test_dashboard import ADMIN, TOKEN, login


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = settings_for(tmp_path, "http://127.0.0.1:9/unused", extra=ADMIN)
    with TestClient(create_app(settings), base_url="https://testserver") as test_client:
        yield test_client


def _expire(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> str:
    """Sign in as 8 hours and a minute ago: the cookie is still sent, but too old."""
    real = time.time
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: real() - MAX_AGE - 60)
    answer = client.post("/ui/login", data={"password": TOKEN}, follow_redirects=False)
    monkeypatch.undo()
    assert answer.status_code == 303 and client.cookies.get(COOKIE)
    assert client.get("/ui/events", follow_redirects=False).status_code == 303  # too old
    return "0" * 64  # the page that held its CSRF token is long gone: any value will do


@pytest.mark.parametrize(
    ("form", "fields", "back"),
    [
        ("/ui/deliveries/replay", {"id": "all-dead"}, "/ui/login?next=%2Fui%2Fdeliveries"),
        ("/ui/logout", {}, "/ui/login?next=%2Fui%2Fevents"),
    ],
    ids=["replay", "logout"],
)
@pytest.mark.parametrize("how", ["expired", "signed-out"])
def test_a_form_without_a_live_session_leads_to_the_login_form(
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
    fields: dict[str, str],
    back: str,
    how: str,
) -> None:
    """The POST is answered with the login form (303), not a bare 403, and does nothing."""
    if how == "expired":
        csrf = _expire(client, monkeypatch)
    else:
        csrf = login(client)
        client.cookies.clear()
    answer = client.post(form, data={**fields, "csrf": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == back
    assert "Admin token" in client.get(back).text
