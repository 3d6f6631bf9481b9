"""The SSRF guard for `delivery.transport = "aiohttp"` (see guard.py for the why).

aiohttp resolves host names through its connector's resolver and connects to exactly the
addresses the resolver returns (keeping the name for SNI, certificate checks and Host), so a
resolver that checks before it answers gives the same guarantee as guard.py's backend. aiohttp
skips the resolver for hosts that look like addresses, so the transport checks those itself
before sending; aiohttp refuses legacy numeric forms such as `127.1` on its own as well.
"""

from __future__ import annotations

import functools
import socket
import ssl

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from connector.delivery.addresses import DestinationPolicy, literal_address
from connector.delivery.guard import InnerFactory
from connector.delivery.resolver import Resolver

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV  # aiohttp must not resolve again
# Parsing the host as an address took ~2 % of an attempt (py-spy on bench/fanout.py's
# worker); the same few action hosts come back on every request.
_literal = functools.lru_cache(maxsize=1024)(literal_address)


class GuardedResolver(AbstractResolver):
    """Resolves once through our cached resolver and answers only checked addresses."""

    def __init__(self, policy: DestinationPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._resolver.resolve(host, port)
        self._policy.check(addresses)  # RefusedDestination passes through aiohttp unwrapped
        wanted = {socket.AF_INET: 4, socket.AF_INET6: 6}.get(family)
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


class GuardedAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport over a connector with `GuardedResolver`, no cookie jar."""

    def __init__(
        self,
        policy: DestinationPolicy,
        resolver: Resolver,
        limits: httpx.Limits,
        ssl_context: ssl.SSLContext,
    ) -> None:
        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(policy, resolver),
                use_dns_cache=False,  # resolver.py caches, and checks every answer it gives
                ssl=ssl_context,
                limit=limits.max_connections or 0,
                keepalive_timeout=limits.keepalive_expiry,
            )
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

        super().__init__(verify=ssl_context, limits=limits, trust_env=False, client=session)
        self.policy = policy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        literal = _literal(request.url.host)
        if literal is not None:
            self.policy.check((literal,))
        return await super().handle_async_request(request)


def aiohttp_factory(resolver: Resolver, limits: httpx.Limits) -> InnerFactory:
    """aiohttp sessions, one per policy, sharing one TLS context."""
    ssl_context = httpx.create_ssl_context(trust_env=False)

    def make(policy: DestinationPolicy) -> httpx.AsyncBaseTransport:
        return GuardedAiohttpTransport(policy, resolver, limits, ssl_context)

    return make
