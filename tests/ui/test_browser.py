"""The dashboard in a real browser: headless chromium against `connector serve` on 127.0.0.1."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.customerio import cio_event
from tests.support.servers import Downstream
from tests.support.signing import cio_headers
from tests.ui.conftest import TOKEN

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 800)}


def log_in(page: Page, base: str, password: str = TOKEN) -> None:
    page.goto(f"{base}/ui/login")
    page.get_by_label("Admin token").fill(password)
    page.get_by_role("button", name="Sign in").click()


def post_click(base: str, person: str) -> None:
    body = cio_event("clicked", person, time.time(), href=f"https://shop.example/{person}")
    response = httpx.post(f"{base}/webhooks/cio", content=body, headers=cio_headers(body))
    assert response.status_code == 200


def reload_until(page: Page, url: str, *texts: str, timeout: float = 15.0) -> None:
    """Reload `url` until one card shows all `texts` (the worker routes in the background)."""
    cards = page.locator("li.card")
    for text in texts:
        cards = cards.filter(has_text=text)
    deadline = time.monotonic() + timeout
    page.goto(url)
    while cards.count() == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        page.goto(url)
    expect(cards.first).to_be_visible()


def test_refused_without_the_token(page: Page, service: str) -> None:
    """Pages redirect to the login form; a wrong token stays there with an error."""
    page.goto(f"{service}/ui/deliveries")
    expect(page).to_have_url(f"{service}/ui/login?next=%2Fui%2Fdeliveries")
    log_in(page, service, password="not-the-token")
    expect(page.get_by_role("alert")).to_have_text("Wrong admin token.")
    expect(page).to_have_url(f"{service}/ui/login")


def test_log_in_and_see_a_click_arrive(page: Page, service: str) -> None:
    """After login a signed click shows on the events page with verdict and decision."""
    log_in(page, service)
    expect(page).to_have_url(f"{service}/ui/events")
    post_click(service, "ana")
    reload_until(page, f"{service}/ui/events", "ana@example.org", "all-clicks →")
    card = page.locator("li.card", has_text="ana@example.org")
    expect(card).to_contain_text("human")
    expect(card).to_contain_text("all-clicks → downstream")
    card.get_by_role("link", name="email.clicked").click()
    expect(page.get_by_role("heading", name="Bot reasons")).to_be_visible()


def test_filter_events(page: Page, service: str) -> None:
    """The filters narrow the list: suspected bots only is empty, the rule keeps the click."""
    log_in(page, service)
    post_click(service, "cy")
    reload_until(page, f"{service}/ui/events", "cy@example.org", "all-clicks →")
    page.get_by_label("Bot").select_option("yes")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No events match.")).to_be_visible()
    page.get_by_label("Bot").select_option("no")
    page.get_by_label("Rule").select_option("all-clicks")
    page.get_by_label("Source").select_option("cio")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(f"{service}/ui/events?source=cio&type=&bot=no&rule=all-clicks")
    expect(page.locator("li.card", has_text="cy@example.org")).to_be_visible()


def test_replay_a_dead_letter_and_see_it_delivered(
    page: Page, service: str, sink: Downstream
) -> None:
    """A delivery answered 400 is a dead letter; Replay queues it and it is delivered."""
    with sink._lock:
        sink.statuses[:] = [400]
    log_in(page, service)
    post_click(service, "dee")
    reload_until(page, f"{service}/ui/deliveries?status=dead", "HTTP 400")
    dead = page.locator("li.status-dead").first
    delivery_id = dead.get_attribute("data-delivery")
    dead.get_by_role("button", name="Replay").click()
    expect(page.get_by_role("status")).to_have_text("1 delivery queued again.")
    reload_until(page, f"{service}/ui/deliveries?status=delivered", str(delivery_id))
    expect(page.locator(f'li.status-delivered[data-delivery="{delivery_id}"]')).to_be_visible()


def test_a_forged_csrf_token_is_refused(page: Page, service: str) -> None:
    """A form whose CSRF token was tampered with answers 403, and changes nothing."""
    log_in(page, service)
    page.goto(f"{service}/ui/deliveries")
    page.locator("input[name=csrf]").evaluate_all("els => els.forEach(e => e.value = 'forged')")
    with page.expect_response(f"{service}/ui/logout") as answer:
        page.get_by_role("button", name="Log out").click()
    assert answer.value.status == 403
    expect(page.get_by_text("403 Forbidden: missing or invalid CSRF token")).to_be_visible()
    page.goto(f"{service}/ui/sources")
    expect(page).to_have_url(f"{service}/ui/sources")  # still signed in


def test_open_a_link_report(page: Page, service: str) -> None:
    """A trigger-link click and an ESP click show in their reports, with chart and contacts."""
    assert httpx.get(f"{service}/t/spring", follow_redirects=False).status_code == 302
    post_click(service, "fay")
    log_in(page, service)
    reload_until(page, f"{service}/ui/reports", "Spring sale", "1 click")
    page.get_by_role("link", name="Spring sale").click()
    expect(page.get_by_role("heading", name="Spring sale")).to_be_visible()
    expect(page.locator("svg rect.all")).to_have_count(1)
    page.goto(f"{service}/ui/reports")
    page.get_by_role("link", name="Campaigns").click()
    page.locator("li.card", has_text="42").get_by_role("link").click()
    expect(page.get_by_text("unique contact")).to_be_visible()
    expect(page.locator("ul.contacts li", has_text="fay")).to_be_visible()


def test_download_a_report_as_csv_then_log_out(page: Page, service: str) -> None:
    """The report's CSV link downloads a named file with the contact; after logging out,
    the report asks for the token again."""
    post_click(service, "gus")
    log_in(page, service)
    reload_until(page, f"{service}/ui/reports?subject=campaign", "42")
    page.goto(f"{service}/ui/report?subject=campaign&key=42")
    expect(page.locator("ul.contacts li", has_text="gus")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download every contact (CSV)").click()
    download = info.value
    assert download.suggested_filename == "campaign-42-contacts.csv"
    text = Path(download.path()).read_text()
    assert text.startswith("recipient,clicks,human_clicks,first_at,last_at")
    assert "gus@example.org" in text
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{service}/ui/login")
    page.goto(f"{service}/ui/report?subject=campaign&key=42")
    expect(page.get_by_label("Admin token")).to_be_visible()


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_every_page_fits_phone_and_desktop(
    browser: Browser, service: str, sink: Downstream, device: str
) -> None:
    """Each page renders without sideways scrolling at 390x844 and 1280x800 (screenshots)."""
    width, height = VIEWPORTS[device]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    with sink._lock:
        sink.statuses[:] = [400]  # a dead letter to show
    post_click(service, "eve")
    assert httpx.get(f"{service}/t/spring", follow_redirects=False).status_code == 302
    body = cio_event("clicked", "mallory", time.time(), href="https://shop.example/")
    wrong = cio_headers(body, key="not-the-signing-key")  # a refused request to show
    assert httpx.post(f"{service}/webhooks/cio", content=body, headers=wrong).status_code == 401
    due = datetime.fromtimestamp(time.time() + 86400, UTC).isoformat()
    check = {"rule": "nudge", "send": {"campaign_id": "42"}, "at": due}
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{service}/api/v1/checks", json=check, headers=auth).status_code == 201
    page.goto(f"{service}/ui/login")
    shoot(page, "login", device)
    log_in(page, service)
    reload_until(page, f"{service}/ui/deliveries?status=dead", "HTTP 400")
    reload_until(page, f"{service}/ui/events", "eve@example.org", "all-clicks →")
    for name in ("events", "deliveries", "sources", "scenarios", "reports"):
        page.goto(f"{service}/ui/{name}")
        shoot(page, name, device)
    page.goto(f"{service}/ui/events")
    page.locator("li.card a.id").first.click()
    shoot(page, "event", device)
    page.goto(f"{service}/ui/report?subject=campaign&key=42")
    shoot(page, "report", device)
    context.close()


def test_long_values_from_outside_wrap_on_a_phone(browser: Browser, service: str) -> None:
    """A 500-character link and a 120-character contact wrap: no page scrolls sideways."""
    person = "p" + "x" * 120
    href = "https://shop.example/" + "a" * 400 + "?q=" + "b" * 100
    body = cio_event("clicked", person, time.time(), href=href)
    assert (
        httpx.post(f"{service}/webhooks/cio", content=body, headers=cio_headers(body)).status_code
        == 200
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    log_in(page, service)
    shown = {"events": person, "reports?subject=link": href[:40], "reports?subject=message": person}
    for path, text in shown.items():
        reload_until(page, f"{service}/ui/{path}", text)
        assert _overflow(page) <= 0, f"{path} scrolls sideways by {_overflow(page)}px"
    page.goto(f"{service}/ui/events")
    page.locator("li.card", has_text=person).locator("a.id").click()
    expect(page.get_by_role("definition").filter(has_text=person)).to_be_visible()
    assert _overflow(page) <= 0, "the event page scrolls sideways"
    context.close()


def test_every_page_fits_a_small_phone(browser: Browser, service: str) -> None:
    """At 320x568 (the narrowest phones in use) no page scrolls sideways: the filters' long
    options (email.click_timeout) once pushed the events page 3 px past the screen."""
    post_click(service, "hal")
    context = browser.new_context(viewport={"width": 320, "height": 568})
    page = context.new_page()
    log_in(page, service)
    reload_until(page, f"{service}/ui/events", "hal@example.org")
    for path in ("events", "deliveries", "sources", "scenarios", "reports", "login"):
        page.goto(f"{service}/ui/{path}")
        assert _overflow(page) <= 0, f"{path} scrolls sideways by {_overflow(page)}px"
    context.close()


def _overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def shoot(page: Page, name: str, device: str) -> None:
    """Assert no horizontal overflow; save a screenshot (to docs/ with UPDATE_SCREENSHOTS=1)."""
    overflow = _overflow(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on {device}"
    folder = SHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}-{device}.png"), full_page=True)
    else:
        assert page.screenshot(full_page=True)
