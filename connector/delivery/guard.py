"""The SSRF guard at connect time: the address that was checked is the address connected to.

Checking a URL's host name and then letting the HTTP client resolve it again leaves a window
(DNS rebinding: a public answer for the check, `127.0.0.1` for the connection). So the check
lives where the socket is opened. aiohttp (the engine under our httpx client, engine.py)
resolves host names through its connector's resolver and connects to exactly the addresses
the resolver returns, keeping the name for SNI, certificate checks and Host. `GuardedResolver`
resolves once (resolver.py), checks every answer against the action's `DestinationPolicy`
(addresses.py) and answers only checked, numeric addresses, so aiohttp cannot look the name
up again. aiohttp skips the resolver for hosts that look like addresses, so
`GuardedTransport` checks those itself before sending (aiohttp also refuses legacy numeric
forms such as `127.1`; `literal_address` reads them, so they are judged, not passed on).

Actions may allow different networks, and a kept-alive connection to an address that one
action may reach must never serve another that may not. `GuardedTransport` therefore keeps
one aiohttp session (one connection pool) per distinct policy, named by the sender in a
request extension; with no per-action `allow_networks` that is one pool.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult

from connector.delivery.addresses import DestinationPolicy, literal_address
from connector.delivery.engine import AiohttpEngine
from connector.delivery.exchange import Reply, Route
from connector.delivery.resolver import Resolver

POLICY_EXTENSION = "click_connector.destination_policy"
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV  # aiohttp must not resolve again
_FAMILIES = {socket.AF_INET: 4, socket.AF_INET6: 6}
# Parsing the host as an address took ~2 % of an attempt (py-spy on bench/fanout.py's
# worker); the same few action hosts come back on every request.
_literal = functools.lru_cache(maxsize=1024)(literal_address)
_PASSED_ROUTES = 1024  # one per action: a bound for configurations replaced at runtime
SessionFactory = Callable[[DestinationPolicy], aiohttp.ClientSession]
SocketFactory = Callable[[AddrInfoType], socket.socket]  # aiohttp's hook where it dials


class GuardedResolver(AbstractResolver):
    """Resolves once through our cached resolver and answers only checked addresses."""

    def __init__(self, policy: DestinationPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await self._resolver.resolve(host, port)
        except (OSError, ValueError) as error:
            # Usually transient (retried); aiohttp wraps an OSError as a connect error, and
            # the text names neither the URL nor its path.
            raise OSError(0, f"name resolution failed: {error}") from None
        self._policy.check(addresses)  # RefusedDestination passes through aiohttp unwrapped
        wanted = _FAMILIES.get(family)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                proto=0,
                flags=_NUMERIC,
            )
            for address in addresses
            if wanted is None or address.version == wanted
        ]

    async def close(self) -> None:
        return None


def session_factory(
    resolver: Resolver,
    limits: httpx.Limits,
    ssl_context: ssl.SSLContext | None = None,
    socket_factory: SocketFactory | None = None,
) -> SessionFactory:
    """aiohttp sessions, one per policy, sharing one TLS context (loading the CA bundle
    takes ~30 ms); no cookie jar: deliveries are stateless."""
    context = ssl_context or httpx.create_ssl_context(trust_env=False)

    def make(policy: DestinationPolicy) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(policy, resolver),
            use_dns_cache=False,  # resolver.py caches, and checks every answer it gives
            ssl=context,
            limit=limits.max_connections or 0,
            keepalive_timeout=limits.keepalive_expiry,
            socket_factory=socket_factory,
        )
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return make


class GuardedTransport(httpx.AsyncBaseTransport):
    """Routes each request to the session of its destination policy, made on first use,
    after checking a literal address host against that policy."""

    def __init__(self, sessions: SessionFactory, default: DestinationPolicy) -> None:
        self._sessions = sessions
        self.default = default
        self._inner: dict[DestinationPolicy, AiohttpEngine] = {}
        self._passed: dict[Route, AiohttpEngine] = {}  # routes checked once (`deliver`)
        self.inner(default)  # built now, as httpx builds its default transport, not mid-delivery

    def inner(self, policy: DestinationPolicy) -> AiohttpEngine:
        engine = self._inner.get(policy)
        if engine is None:
            engine = self._inner[policy] = AiohttpEngine(functools.partial(self._sessions, policy))
        return engine

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        engine = self._checked(request.extensions, request.url.host)
        return await engine.handle_async_request(request)

    def deliver(self, route: Route, headers: dict[str, str], body: bytes) -> Awaitable[Reply]:
        """A delivery without httpx's models (exchange.py), guarded the same way: checked
        now, and the engine's coroutine returned to be awaited (client.py's `deliver`).

        A route that passed is remembered with its engine: its policy and host never
        change, and the policy's verdict on an address is memoised for good (addresses.py),
        so the check could only pass again (five Python calls a delivery,
        bench/fanout_calls.py). A refused route is not remembered: it raises every time.
        Host names are checked at every connection, by `GuardedResolver`."""
        engine = self._passed.get(route)
        if engine is None:
            engine = self._checked(route.extensions, route.host)
            if len(self._passed) >= _PASSED_ROUTES:
                self._passed.clear()  # routes of replaced configurations
            self._passed[route] = engine
        return engine.deliver(route, headers, body)

    def _checked(self, extensions: dict[str, Any], host: str) -> AiohttpEngine:
        """The engine of the request's policy, once a literal address host passed it."""
        policy = extensions.get(POLICY_EXTENSION)
        if not isinstance(policy, DestinationPolicy):
            policy = self.default  # a request made without the sender: `[delivery]` rules
        literal = _literal(host)
        if literal is not None:
            policy.check((literal,))
        return self.inner(policy)

    async def aclose(self) -> None:
        engines, self._inner, self._passed = list(self._inner.values()), {}, {}
        for engine in engines:
            await engine.aclose()
