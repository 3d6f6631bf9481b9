"""The one shared outbound HTTP client, created by the app's lifespan and closed with it.

httpx's API over aiohttp's engine (httpx-aiohttp, guard_aiohttp.py) by default: 3x the
deliveries per core of httpx's own engine (bench/fanout.py), one connection per attempt in
flight (`[delivery] concurrency`). With `transport = "httpx"` the pool stays at most 10
connections: httpcore's pool degrades well before 50 (measured while planning). Redirects
are not followed (see policy.py), cookies are never kept, and the environment is not
consulted for proxies or CA bundles (`trust_env=False`): outbound behaviour comes from our
settings only. Every connection goes through the SSRF guard (guard.py): `[delivery]
allow_networks` is the policy of requests that do not name their own.
"""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from connector import __version__
from connector.delivery.addresses import DestinationPolicy
from connector.delivery.guard import GuardedTransport, InnerFactory, httpx_factory
from connector.delivery.resolver import CachingResolver, Resolver
from connector.delivery.settings import DeliverySettings

USER_AGENT = f"click-connector/{__version__}"
MAX_CONNECTIONS = 10
# Every request passes its action's own timeout; this only covers requests that do not.
DEFAULT_TIMEOUT = httpx.Timeout(10.0)


def make_client(settings: DeliverySettings, resolver: Resolver | None = None) -> httpx.AsyncClient:
    """A client for `Sender`; use as `async with make_client(settings) as client:`.

    `resolver` is for tests (a stub that maps test names to 127.0.0.1); the default is the
    system resolver behind a short TTL cache, shared by every pool of this client.
    """
    resolver = resolver if resolver is not None else CachingResolver()
    if settings.transport == "aiohttp":
        limits = _limits(settings.concurrency)
        factory = _aiohttp_factory(resolver, limits)
    else:
        limits = _limits(min(settings.concurrency, MAX_CONNECTIONS))
        factory = httpx_factory(resolver, limits)
    transport = GuardedTransport(factory, DestinationPolicy.of(settings.allow_networks))
    return httpx.AsyncClient(
        timeout=DEFAULT_TIMEOUT,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
        cookies=_NoCookies(),
    )


def _limits(connections: int) -> httpx.Limits:
    return httpx.Limits(max_connections=connections, max_keepalive_connections=connections)


class _NoCookies(CookieJar):
    """Deliveries are stateless: a cookie one response sets must not ride on later requests
    (to that receiver or, via a shared jar, be kept at all). Skipping the jar also saves
    about 5 % of an attempt's CPU, measured with cProfile."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Cookie) -> None:
        return None


def _aiohttp_factory(resolver: Resolver, limits: httpx.Limits) -> InnerFactory:
    """Imported here: aiohttp costs ~0.1 s to import, and only a sending process needs it."""
    from connector.delivery.guard_aiohttp import aiohttp_factory

    return aiohttp_factory(resolver, limits)
