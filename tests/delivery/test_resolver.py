"""The delivery resolver: one lookup per host per TTL, literals without DNS, no cached failures."""

from __future__ import annotations

import asyncio

import pytest

from connector.delivery.resolver import MAX_ENTRIES, CachingResolver
from tests.delivery.stubs import StubDNS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def resolve(resolver: CachingResolver, host: str) -> list[str]:
    return [str(a) for a in asyncio.run(resolver.resolve(host, 443))]


def test_answers_are_cached_for_the_ttl_then_looked_up_again() -> None:
    """Within the TTL a host costs no lookup; after it the next connect asks DNS again."""
    dns, clock = StubDNS({"hooks.example.com": ["93.184.216.34"]}), Clock()
    resolver = CachingResolver(dns, ttl=30, clock=clock)
    assert resolve(resolver, "hooks.example.com") == ["93.184.216.34"]
    clock.now += 29
    assert resolve(resolver, "HOOKS.example.com") == ["93.184.216.34"]
    assert dns.lookups == ["hooks.example.com"]
    clock.now += 2
    resolve(resolver, "hooks.example.com")
    assert len(dns.lookups) == 2


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[2001:db8::5]", "2001:db8::5"),
        ("127.1", "127.0.0.1"),
    ],
)
def test_literal_addresses_skip_dns(host: str, expected: str) -> None:
    """A literal address is its own answer: no lookup, nothing cached."""
    dns = StubDNS({})
    assert resolve(CachingResolver(dns), host) == [expected]
    assert dns.lookups == []


def test_failures_are_not_cached() -> None:
    """A failed lookup raises and is asked again next time (it is usually transient)."""
    dns = StubDNS({})
    resolver = CachingResolver(dns)
    for _ in range(2):
        with pytest.raises(OSError, match="not known"):
            resolve(resolver, "nowhere.example")
    assert len(dns.lookups) == 2


def test_duplicate_answers_are_merged_in_order() -> None:
    """getaddrinfo repeats addresses per socket type; each address is kept once, in order."""
    dns = StubDNS({"dual.example": ["2001:db8::1", "203.0.113.9", "2001:db8::1"]})
    assert resolve(CachingResolver(dns), "dual.example") == ["2001:db8::1", "203.0.113.9"]


def test_the_cache_is_bounded() -> None:
    """Past MAX_ENTRIES hosts the oldest entries make room; memory stays bounded."""
    names = {f"h{i}.example": ["203.0.113.1"] for i in range(MAX_ENTRIES + 5)}
    resolver = CachingResolver(StubDNS(names))  # type: ignore[arg-type]
    for name in names:
        resolve(resolver, name)
    assert len(resolver._cache) <= MAX_ENTRIES
