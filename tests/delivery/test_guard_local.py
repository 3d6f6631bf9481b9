"""The SSRF guard over real sockets, on both transports, against a server on 127.0.0.1.

A test name is resolved (by a stub) to 127.0.0.1, the only address tests may reach: with
127.0.0.0/8 allow-listed the delivery arrives, with the Host header of the name; without it
nothing reaches the server. Literal addresses are checked without DNS on both transports.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from connector.delivery.addresses import RefusedDestination
from connector.delivery.client import make_client
from connector.delivery.policy import RetryPolicy
from connector.delivery.resolver import CachingResolver
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings, HttpAction
from tests.delivery.conftest import T0, make_event
from tests.delivery.stubs import StubDNS
from tests.support.servers import downstream

pytestmark = pytest.mark.e2e
TRANSPORTS = ["httpx", "aiohttp"]


def settings_for(transport: str, **fields: Any) -> DeliverySettings:
    if transport == "aiohttp":
        pytest.importorskip("httpx_aiohttp")
    return DeliverySettings(budget_seconds=3600, transport=transport, **fields)  # type: ignore[arg-type]


def deliver(settings: DeliverySettings, action: HttpAction, dns: StubDNS) -> AttemptResult:
    async def run() -> AttemptResult:
        async with make_client(settings, resolver=CachingResolver(dns)) as client:
            sender = Sender(client, {action.id: action}, RetryPolicy(settings))
            return await sender.attempt(DeliveryJob("dlv_1", action.id, make_event(), 1, None, T0))

    return asyncio.run(run())


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_allow_listed_name_resolving_to_loopback_is_delivered(transport: str) -> None:
    """receiver.test -> 127.0.0.1 with 127.0.0.0/8 allowed: delivered, Host keeps the name."""
    dns = StubDNS({"receiver.test": ["127.0.0.1"]})
    settings = settings_for(transport, allow_networks=["127.0.0.0/8"])
    with downstream() as server:
        action = HttpAction(id="crm", url=f"http://receiver.test:{server.port}/hook")
        result = deliver(settings, action, dns)
        received = server.wait_for(1)
    assert result.outcome == "delivered", result.error
    assert [r.headers["host"] for r in received] == [f"receiver.test:{server.port}"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_name_resolving_to_loopback_is_refused_without_an_allow_list(transport: str) -> None:
    """receiver.test -> 127.0.0.1 without an allow list: dead letter, the server sees nothing."""
    dns = StubDNS({"receiver.test": ["127.0.0.1"]})
    with downstream() as server:
        action = HttpAction(id="crm", url=f"http://receiver.test:{server.port}/hook")
        result = deliver(settings_for(transport), action, dns)
        received = server.wait_for(1, timeout=0.3)
    assert result.outcome == "dead"
    assert "127.0.0.1 is loopback" in (result.error or "")
    assert received == []


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "127.1", "localhost"])
def test_a_literal_or_localhost_url_is_refused_at_connect_time(transport: str, host: str) -> None:
    """Literal loopback forms and localhost never reach the server without an allow list, even
    for a request that bypassed config validation."""
    dns = StubDNS({"localhost": ["127.0.0.1"]})

    async def post(url: str) -> None:
        async with make_client(settings_for(transport), resolver=CachingResolver(dns)) as client:
            await client.post(url, content=b"{}")

    with downstream() as server:
        with pytest.raises(RefusedDestination):
            asyncio.run(post(f"http://{host}:{server.port}/hook"))
        assert server.wait_for(1, timeout=0.3) == []
