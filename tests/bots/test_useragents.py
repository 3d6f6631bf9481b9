"""User-agent signals: declared bots, scanners, previews, empty agents and browser impostors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.bots.useragents import classify, expected_major

NOW = expected_major(datetime(2026, 9, 1, tzinfo=UTC))
WIN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"


def _codes(agent: str | None) -> set[str]:
    return {code for code, _ in classify(agent, NOW)}


@pytest.mark.parametrize(
    "agent",
    [
        "Barracuda Sentinel (EE)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b",
        "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
        "Mozilla/5.0 (compatible; Google-Safety)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "facebookexternalhit/1.1",
        "WhatsApp/2.24.20.89 A",
        f"{WIN} HeadlessChrome/131.0.6778.85 Safari/537.36",
        "python-requests/2.32.3",
        "Go-http-client/1.1",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; "
        "+https://perplexity.ai/perplexity-user)",
    ],
)
def test_known_scanners_and_previews(agent: str) -> None:
    """Mail scanners, unfurlers, headless browsers and HTTP libraries are named scanners."""
    assert _codes(agent) == {"ua.scanner"}


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0"
        " Safari/537.36 (compatible; Google-GeminiNotebook; +https://developers.google.com/"
        "crawling/docs/crawlers-fetchers/google-gemininotebook)",
        "Google-NotebookLM",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; MistralAI-User/1.0; "
        "+https://docs.mistral.ai/robots)",
    ],
)
def test_assistants_fetching_for_their_user(agent: str) -> None:
    """The user-triggered fetchers of AI assistants, as their makers document them."""
    assert "ua.scanner" in _codes(agent)


def test_crawler_list_catches_declared_bots() -> None:
    """A declared crawler missing from our table is caught by the crawlerdetect list."""
    assert _codes("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)") == {
        "ua.known_bot"
    }


def test_empty_agent_is_flagged_but_missing_agent_is_not() -> None:
    """An empty User-Agent is evidence; an ESP that sends none (None) is not."""
    assert _codes("   ") == {"ua.empty"}
    assert _codes(None) == set()


@pytest.mark.parametrize(
    "agent",
    [
        f"{WIN} Chrome/{NOW}.0.0.0 Safari/537.36",
        f"{WIN} Chrome/{NOW}.0.0.0 Safari/537.36 Edg/{NOW}.0.2210.91",
        "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A; wv) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Version/4.0 Chrome/{NOW}.0.6099.144 Mobile Safari/537.36",
        f"{WIN} Chrome/{NOW}.0.6099.291 Electron/28.2.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/26.0 Safari/605.1.15",
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{NOW}.0) Gecko/20100101 Firefox/{NOW}.0",
    ],
)
def test_real_browsers_raise_nothing(agent: str) -> None:
    """Reduced Chrome, Edge, Android WebViews, Electron, Safari and Firefox look human."""
    assert _codes(agent) == set()


def test_full_chrome_build_on_desktop() -> None:
    """Desktop Chrome with a full build number (not sent since M101) is an impostor sign."""
    assert _codes(f"{WIN} Chrome/{NOW}.0.6367.207 Safari/537.36") == {"ua.full_build"}


def test_old_full_build_is_also_outdated() -> None:
    """Safe Links' observed Chrome 101.0.4951.54 is both a full build and far too old."""
    assert _codes(f"{WIN} Chrome/101.0.4951.54 Safari/537.36") == {"ua.full_build", "ua.outdated"}
    assert _codes(f"{WIN} Chrome/72.0.3626.109 Safari/537.36") == {"ua.outdated"}


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/109.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/116.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Linux; Android 8.0.0; SM-G930F) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/100.0.0.0 Mobile Safari/537.36",
    ],
)
def test_stuck_legacy_systems_are_not_outdated(agent: str) -> None:
    """Browsers capped by an old OS (Win 7-8.1, old macOS) or on mobile are not flagged."""
    assert _codes(agent) == set()


def test_expected_major_matches_known_releases() -> None:
    """The date-based estimate hits Chrome 100 (2022-03-29) and 138 (2025-06-24)."""
    assert expected_major(datetime(2022, 3, 29, tzinfo=UTC)) == 100
    assert expected_major(datetime(2025, 6, 24, tzinfo=UTC)) == 138
