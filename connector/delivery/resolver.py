"""Host name resolution for deliveries: resolve once, cache briefly, hand back parsed addresses.

The SSRF guard (guard.py) checks the addresses this returns and connects to exactly those,
so no second lookup happens between the check and the connection. The system resolver
reports no TTLs, so answers are kept for a fixed short time: long enough that a steady stream
of deliveries costs one lookup per host every `ttl` seconds (the delivery path's speed is
measured, issue 14), short enough that a moved receiver is followed within a minute. Literal
addresses never reach DNS. Failed lookups are not cached: they are retried with the delivery.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from connector.delivery.addresses import IPAddress, literal_address

Lookup = Callable[[str, int], Awaitable[Sequence[str]]]
DEFAULT_TTL_SECONDS = 30.0
MAX_ENTRIES = 1024


class Resolver(Protocol):
    """Turns a URL host into the addresses a connection may use, in preference order."""

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]: ...


async def system_lookup(host: str, port: int) -> Sequence[str]:
    """`getaddrinfo` off the event loop (asyncio runs it in its default executor)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CachingResolver:
    """A `Resolver` over `lookup` (the system resolver unless a test passes a stub)."""

    def __init__(
        self,
        lookup: Lookup = system_lookup,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[IPAddress, ...]]] = {}

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        literal = literal_address(host)
        if literal is not None:
            return (literal,)
        key = host.lower()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        answers = await self._lookup(host, port)
        addresses = tuple(dict.fromkeys(ipaddress.ip_address(answer) for answer in answers))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "no addresses for the host")
        self._remember(key, now, addresses)
        return addresses

    def _remember(self, key: str, now: float, addresses: tuple[IPAddress, ...]) -> None:
        if len(self._cache) >= MAX_ENTRIES:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            while len(self._cache) >= MAX_ENTRIES:
                del self._cache[next(iter(self._cache))]  # the oldest entry
        self._cache[key] = (now + self._ttl, addresses)
