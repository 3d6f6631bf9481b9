"""CertificateCache: validated URLs only, one fetch per certificate, bounded, files for air-gaps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from connector.certificates import CertificateCache, CertificateUnavailable
from connector.errors import ConfigError
from providers import amazon_ses
from providers.base import Source
from tests.support.fixtures import cases

CLICK = next(case for case in cases("amazon_ses") if case.name == "click")
SOURCE = CLICK.source()
URL, PEM = next(iter(SOURCE.options["certificates"].items()))
OTHER = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-other.pem"


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _lookup(url: str, **options: Any) -> dict[str, str]:
    async with httpx.AsyncClient() as client:
        return await CertificateCache(client, **options).certificates_for(url)


def test_certificate_is_fetched_once_and_then_served_from_memory() -> None:
    """Two lookups (and five concurrent ones) of a new certificate make a single GET."""

    async def scenario() -> tuple[dict[str, str], list[dict[str, str]]]:
        async with httpx.AsyncClient() as client:
            cache = CertificateCache(client)
            together = await asyncio.gather(*(cache.certificates_for(URL) for _ in range(5)))
            return await cache.certificates_for(URL), list(together)

    with respx.mock(assert_all_mocked=True) as router:
        route = router.get(URL).respond(200, text=PEM)
        last, together = _run(scenario())
    assert route.call_count == 1
    assert last == {URL: PEM}
    assert all(found == {URL: PEM} for found in together)


def test_fetched_certificate_lets_the_fixture_verify() -> None:
    """The cache's answer is exactly what amazon_ses.verify needs in source.options."""
    with respx.mock(assert_all_mocked=True) as router:
        router.get(URL).respond(200, text=PEM)
        found = _run(_lookup(URL))
    source = replace(SOURCE, options={"certificates": found})
    assert amazon_ses.verify(CLICK.request(), source).credential == "topic_arns[0]"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/SimpleNotificationService-x.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:444/SimpleNotificationService-x.pem",
    ],
)
def test_invalid_urls_are_never_requested(url: str) -> None:
    """The cache re-validates URLs itself: a non-SNS URL gives nothing and makes no request."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        catch_all = router.route().respond(200, text=PEM)
        assert _run(_lookup(url)) == {}
    assert catch_all.call_count == 0


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404),
        httpx.Response(200, text="<html>not a certificate</html>"),
        httpx.Response(200, content=b"-----BEGIN CERTIFICATE-----\n" + b"A" * 40_000),
        httpx.Response(302, headers={"Location": "https://evil.example/x.pem"}),
    ],
)
def test_permanent_failures_give_no_certificate(response: httpx.Response) -> None:
    """404, non-PEM, oversized bodies and redirects (not followed) yield {} so verify says 401."""
    with respx.mock(assert_all_mocked=True) as router:
        router.get(URL).mock(return_value=response)
        assert _run(_lookup(URL)) == {}


@pytest.mark.parametrize(
    "outcome", [httpx.Response(503), httpx.ConnectTimeout("slow"), httpx.ConnectError("down")]
)
def test_transient_failures_ask_sns_to_retry(outcome: Any) -> None:
    """A 5xx, timeout or connection error raises CertificateUnavailable (503: SNS retries)."""
    with respx.mock(assert_all_mocked=True) as router:
        router.get(URL).mock(side_effect=[outcome])
        with pytest.raises(CertificateUnavailable) as raised:
            _run(_lookup(URL))
    assert raised.value.status_code == 503


def test_failures_are_not_cached() -> None:
    """After a failed fetch the next request tries again and can succeed."""

    async def scenario() -> list[dict[str, str]]:
        async with httpx.AsyncClient() as client:
            cache = CertificateCache(client)
            return [await cache.certificates_for(URL), await cache.certificates_for(URL)]

    with respx.mock(assert_all_mocked=True) as router:
        route = router.get(URL)
        route.side_effect = [httpx.Response(404), httpx.Response(200, text=PEM)]
        assert _run(scenario()) == [{}, {URL: PEM}]
    assert route.call_count == 2


def test_cache_is_bounded_least_recently_used_first() -> None:
    """With room for one entry, a second URL evicts the first, which is then fetched again."""

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            cache = CertificateCache(client, max_entries=1)
            for url in (URL, OTHER, URL):
                assert await cache.certificates_for(url) == {url: PEM}

    with respx.mock(assert_all_mocked=True) as router:
        first = router.get(URL).respond(200, text=PEM)
        second = router.get(OTHER).respond(200, text=PEM)
        _run(scenario())
    assert (first.call_count, second.call_count) == (2, 1)


def test_certificate_files_are_matched_by_file_name_without_network(tmp_path: Path) -> None:
    """An air-gapped source lists PEM files; the URL's last path segment picks the file."""
    path = tmp_path / URL.rsplit("/", 1)[1]
    path.write_text(PEM)
    source = Source(id="s", provider="amazon_ses", options={"certificate_files": [str(path)]})

    async def scenario() -> dict[str, str]:
        async with httpx.AsyncClient() as client:
            return await CertificateCache.for_sources(client, [source]).certificates_for(URL)

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        catch_all = router.route().respond(500)
        assert _run(scenario()) == {URL: PEM}
    assert catch_all.call_count == 0


def test_unreadable_or_non_certificate_files_stop_start_up(tmp_path: Path) -> None:
    """A configured file that is missing or not a PEM certificate is a ConfigError."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")

    async def build(path: Path) -> None:
        async with httpx.AsyncClient() as client:
            CertificateCache(client, files=[path])

    for path in (junk, tmp_path / "missing.pem"):
        with pytest.raises(ConfigError) as raised:
            _run(build(path))
        assert raised.value.problems[0].startswith("certificate_files")
