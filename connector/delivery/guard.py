"""The SSRF guard at connect time: the address that was checked is the address connected to.

Checking a URL's host name and then letting the HTTP client resolve it again leaves a window
(DNS rebinding: a public answer for the check, `127.0.0.1` for the connection). So the check
lives where the socket is opened. For httpx, `GuardedBackend` is an httpcore network backend
whose `connect_tcp` resolves the host once (resolver.py), checks every answer against the
action's `DestinationPolicy` (addresses.py) and connects to the checked IP. httpcore still
runs TLS with the original host name as SNI and for certificate checks, and the Host header
is untouched, so receivers behind virtual hosting and CDNs see an ordinary request. The
aiohttp transport gets the same guarantee from a resolver hook (guard_aiohttp.py).

Actions may allow different networks, and a kept-alive connection to an address that one
action may reach must never serve another that may not. `GuardedTransport` therefore keeps
one connection pool per distinct policy (the sender names it in a request extension); with
no per-action `allow_networks` that is one pool, as before.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from connector.delivery.addresses import DestinationPolicy, IPAddress
from connector.delivery.resolver import Resolver

POLICY_EXTENSION = "click_connector.destination_policy"
InnerFactory = Callable[[DestinationPolicy], httpx.AsyncBaseTransport]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with resolution and the policy check in `connect_tcp`."""

    def __init__(
        self,
        policy: DestinationPolicy,
        resolver: Resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = resolver
        self._inner = inner if inner is not None else httpcore.AnyIOBackend()

    # `timeout` (ASYNC109): httpcore's backend interface passes the connect timeout this way.
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        self.policy.check(addresses)  # raises RefusedDestination: a dead letter, no retry
        options = list(socket_options) if socket_options is not None else None
        failure: httpcore.ConnectError | None = None
        for address in addresses:  # in resolver order, like a plain client would
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, options
                )
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None  # `resolve` never returns an empty tuple
        raise failure

    async def _resolve(self, host: str, port: int, limit: float | None) -> tuple[IPAddress, ...]:
        try:
            async with asyncio.timeout(limit):
                return await self._resolver.resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout("name resolution timed out") from None
        except (OSError, ValueError) as error:
            # A lookup failure is usually transient (retry); its text never names the URL.
            raise httpcore.ConnectError(f"name resolution failed: {error}") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not a delivery destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request and error mapping) over a pool with a guarded backend.

    httpx does not take a network backend, so the pool it builds is replaced by an equal
    httpcore pool that has one. `_pool` is the only private name relied on, and the
    connect-time tests fail if httpx ever stops sending through it.
    """

    def __init__(
        self, backend: GuardedBackend, limits: httpx.Limits, ssl_context: ssl.SSLContext
    ) -> None:
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class GuardedTransport(httpx.AsyncBaseTransport):
    """Routes each request to the pool of its destination policy, made on first use."""

    def __init__(self, make_inner: InnerFactory, default: DestinationPolicy) -> None:
        self._make_inner = make_inner
        self.default = default
        self._inner: dict[DestinationPolicy, httpx.AsyncBaseTransport] = {}
        self.inner(default)  # built now, as httpx builds its default transport, not mid-delivery

    def inner(self, policy: DestinationPolicy) -> httpx.AsyncBaseTransport:
        transport = self._inner.get(policy)
        if transport is None:
            transport = self._inner[policy] = self._make_inner(policy)
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        policy = request.extensions.get(POLICY_EXTENSION)
        if not isinstance(policy, DestinationPolicy):
            policy = self.default  # a request made without the sender: `[delivery]` rules
        return await self.inner(policy).handle_async_request(request)

    async def aclose(self) -> None:
        transports, self._inner = list(self._inner.values()), {}
        for transport in transports:
            await transport.aclose()


def httpx_factory(resolver: Resolver, limits: httpx.Limits) -> InnerFactory:
    """Pools for the default transport, one per policy, sharing one TLS context (loading the
    CA bundle takes ~30 ms)."""
    ssl_context = httpx.create_ssl_context(trust_env=False)

    def make(policy: DestinationPolicy) -> httpx.AsyncBaseTransport:
        return GuardedHTTPTransport(GuardedBackend(policy, resolver), limits, ssl_context)

    return make
