"""A real `connector serve` with the dashboard on, and Debian's chromium driven by Playwright.

No browser is downloaded: Playwright launches the `chromium` package's binary (`scripts/test`
installs it when missing). As root, Playwright's default `--no-sandbox` is kept.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.config import write_config
from tests.support.servers import Downstream, ServiceProcess, downstream, free_port

TOKEN = "browser-admin-token-42"
ADMIN_AND_LINK = f"""
[admin]
token = "{TOKEN}"

[[links]]
slug = "spring"
name = "Spring sale"
destination = "https://shop.example/spring"

[[rules]]
id = "nudge"
trigger = "not_clicked"
links = ["https://shop.example/pricing"]
actions = ["downstream"]
"""
_CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")


def chromium_path() -> str:
    for candidate in _CHROMIUM:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (scripts/test)")
    return found


@pytest.fixture(scope="module")
def sink() -> Iterator[Downstream]:
    with downstream() as server:
        yield server


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sink: Downstream) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ui")
    config = write_config(folder, sink.url, extra=ADMIN_AND_LINK)
    process = ServiceProcess(config, free_port()).start()
    try:
        yield process.url
    finally:
        process.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()
