"""The one shared outbound HTTP client, created by the app's lifespan and closed with it.

httpx's API over aiohttp's engine (engine.py): about 3x the deliveries per core of httpx's
own engine (bench/fanout.py), one connection per attempt in flight (`[delivery]
concurrency`). Redirects are not followed (see policy.py), cookies are never kept, and the
environment is not consulted for proxies or CA bundles (`trust_env=False`): outbound
behaviour comes from our settings only. Every connection goes through the SSRF guard
(guard.py): `[delivery] allow_networks` is the policy of requests that do not name their own.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

from connector import __version__
from connector.delivery.addresses import DestinationPolicy
from connector.delivery.exchange import Reply, Route
from connector.delivery.guard import GuardedTransport, SocketFactory, session_factory
from connector.delivery.resolver import CachingResolver, Resolver
from connector.delivery.settings import DeliverySettings

USER_AGENT = f"click-connector/{__version__}"
# Every request passes its action's own timeout; this only covers requests that do not.
DEFAULT_TIMEOUT = httpx.Timeout(10.0)


def deliver(
    client: httpx.AsyncClient, route: Route, headers: dict[str, str], body: bytes
) -> Awaitable[Reply]:
    """Send a delivery straight to the client's transport, without `AsyncClient.send`.

    A delivery needs none of what `send` wraps around the transport (auth flow, redirect
    following: never, see policy.py; cookie extraction through urllib's request shim; event
    hooks; a stream wrapper that times the body), and that wrapping cost about as much as
    aiohttp's whole exchange (bench/README.md, "Delivery"). The transport is chosen by the
    client's own dispatch (`_transport_for_url`, its mounts), which is also where respx's
    `using="httpx"` mock intercepts, so tests mock this path exactly as they mocked `send`.
    Our guarded engine takes the request without httpx's models (exchange.py); any other
    transport gets `route.request(headers, body)`, whose `timeout` extension it reads.

    A plain function returning the engine's coroutine, as `GuardedTransport.deliver` is: an
    attempt's every resumption passes through each coroutine level between the sender and
    aiohttp, and these two had nothing to do after the call (bench/fanout_calls.py). The
    closed-client check and the guard's literal-address check run when this is called.
    """
    if client.is_closed:
        raise RuntimeError("the delivery client is closed")
    transport = client._transport_for_url(route.url)
    if isinstance(transport, GuardedTransport):
        return transport.deliver(route, headers, body)
    return _via_httpx(transport, route.request(headers, body))


async def _via_httpx(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> Reply:
    return Reply.of(await transport.handle_async_request(request))


def make_client(
    settings: DeliverySettings,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
    socket_factory: SocketFactory | None = None,
) -> httpx.AsyncClient:
    """A client for `Sender`; use as `async with make_client(settings) as client:`.

    The other arguments are for tests: a stub resolver that maps test names to addresses,
    a context that trusts a test certificate, a socket factory that records where aiohttp
    dials (and refuses all but 127.0.0.1). The defaults are the system resolver behind a
    short TTL cache, shared by every pool of this client, the system's CA bundle and plain
    sockets.
    """
    resolver = resolver if resolver is not None else CachingResolver()
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    transport = GuardedTransport(
        session_factory(resolver, limits, ssl_context, socket_factory),
        DestinationPolicy.of(settings.allow_networks),
    )
    return httpx.AsyncClient(
        timeout=DEFAULT_TIMEOUT,
        limits=limits,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
        cookies=_NoCookies(),
    )


class _NoCookies(CookieJar):
    """Deliveries are stateless: a cookie one response sets must not ride on later requests
    (to that receiver or, via a shared jar, be kept at all). Skipping the jar also saves
    about 5 % of an attempt's CPU, measured with cProfile."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Cookie) -> None:
        return None
