"""The SSRF guard over real sockets on aiohttp's engine, against receivers on 127.0.0.1.

A test name is resolved (by a stub) to 127.0.0.1, the only address tests may reach: with
127.0.0.0/8 allow-listed the delivery arrives, with the Host header (and over TLS the SNI
name) of the name; without it nothing reaches the receiver. Every dial is recorded, so the
tests also prove where aiohttp connected: only to addresses the guard checked.
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
from tests.delivery.conftest import LOOPBACK, T0, make_event
from tests.delivery.stubs import Receiver, RecordingNetwork, StubDNS

pytestmark = pytest.mark.e2e
SETTINGS = DeliverySettings(budget_seconds=3600)
ALLOWED = DeliverySettings(budget_seconds=3600, allow_networks=[LOOPBACK])
CLOSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
REDIRECT = (
    b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def deliver(
    receiver: Receiver,
    dns: StubDNS,
    actions: list[dict[str, Any]],
    settings: DeliverySettings = SETTINGS,
    resolver: CachingResolver | None = None,
) -> tuple[list[AttemptResult], RecordingNetwork]:
    """One attempt per action (in order) through `make_client` and the sender; each action's
    `url` may use `{port}` for the receiver's."""
    network = RecordingNetwork()

    async def run() -> list[AttemptResult]:
        async with receiver:
            built = [
                HttpAction(**{**a, "url": a["url"].format(port=receiver.port)}) for a in actions
            ]
            client = make_client(
                settings,
                resolver or CachingResolver(dns),
                receiver.client_context,
                socket_factory=network,
            )
            async with client:
                sender = Sender(client, {a.id: a for a in built}, RetryPolicy(settings))
                return [
                    await sender.attempt(DeliveryJob(f"d{i}", a.id, make_event(), 1, None, T0))
                    for i, a in enumerate(built)
                ]

    return asyncio.run(run()), network


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_an_allow_listed_name_is_dialled_at_its_checked_address(scheme: str) -> None:
    """receiver.test -> 127.0.0.1 with 127.0.0.0/8 allowed: resolved once, the checked IP
    dialled, delivered; Host (and SNI over TLS) keep the name."""
    dns = StubDNS({"receiver.test": ["127.0.0.1"]})
    receiver = Receiver(tls_name="receiver.test" if scheme == "https" else None)
    [result], network = deliver(
        receiver, dns, [{"id": "crm", "url": f"{scheme}://receiver.test:{{port}}/hook"}], ALLOWED
    )
    assert result.outcome == "delivered", result.error
    assert network.connects == [("127.0.0.1", receiver.port)]
    assert dns.lookups == ["receiver.test"]
    assert receiver.headers("host") == [f"receiver.test:{receiver.port}"]
    assert receiver.sni == (["receiver.test"] if scheme == "https" else [])


def test_a_name_resolving_to_loopback_is_refused_without_an_allow_list() -> None:
    """receiver.test -> 127.0.0.1 without an allow list: dead letter, nothing dialled."""
    dns, receiver = StubDNS({"receiver.test": ["127.0.0.1"]}), Receiver()
    [result], network = deliver(
        receiver, dns, [{"id": "crm", "url": "http://receiver.test:{port}/hook"}]
    )
    assert result.outcome == "dead"
    assert "127.0.0.1 is loopback" in (result.error or "")
    assert (network.connects, receiver.heads) == ([], [])


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "127.1", "localhost"])
def test_a_literal_or_localhost_url_is_refused_at_connect_time(host: str) -> None:
    """Literal loopback forms and localhost are refused without an allow list, even for a
    request that bypassed config validation: nothing is dialled."""
    dns, network = StubDNS({"localhost": ["127.0.0.1"]}), RecordingNetwork()

    async def post() -> list[bytes]:
        async with Receiver() as receiver:
            resolver = CachingResolver(dns)
            async with make_client(SETTINGS, resolver, socket_factory=network) as client:
                with pytest.raises(RefusedDestination):
                    await client.post(f"http://{host}:{receiver.port}/hook", content=b"{}")
            return receiver.heads

    assert asyncio.run(post()) == []
    assert network.connects == []


def test_an_allow_listed_literal_is_dialled_without_dns() -> None:
    """An allow-listed literal address skips every lookup and is dialled as written."""
    dns, receiver = StubDNS({}), Receiver()
    [result], network = deliver(
        receiver,
        dns,
        [{"id": "crm", "url": "http://127.0.0.1:{port}/x", "allow_networks": ["127.0.0.1/32"]}],
    )
    assert result.outcome == "delivered", result.error
    assert dns.lookups == []
    assert network.connects == [("127.0.0.1", receiver.port)]


def test_rebinding_cannot_reach_the_second_answer() -> None:
    """A name answering 127.0.0.1 (allowed), then 10.0.0.5: each connection dials only what
    was checked for it, so the second is refused instead of reaching the private address."""
    dns = StubDNS({"rebind.test": [["127.0.0.1"], ["10.0.0.5"]]})
    receiver = Receiver(responses=[CLOSE])  # no keep-alive: each attempt connects anew
    action = {"id": "crm", "url": "http://rebind.test:{port}/x"}
    (first, second), network = deliver(
        receiver, dns, [action, action], ALLOWED, resolver=CachingResolver(dns, ttl=0)
    )
    assert first.outcome == "delivered", first.error
    assert second.outcome == "dead"
    assert "10.0.0.5 is private" in (second.error or "")
    assert network.connects == [("127.0.0.1", receiver.port)]
    assert dns.lookups == ["rebind.test", "rebind.test"]


def test_a_connection_kept_for_one_action_never_serves_a_stricter_one() -> None:
    """Two actions to one keep-alive receiver, only the first allow-listed: its kept-alive
    connection is not reused by the second (one pool per policy), which is refused."""
    dns, receiver = StubDNS({"shared.test": ["127.0.0.1"]}), Receiver()
    ops = {"id": "ops", "url": "http://shared.test:{port}/a", "allow_networks": [LOOPBACK]}
    crm = {"id": "crm", "url": "http://shared.test:{port}/b"}
    (ops_result, crm_result), network = deliver(receiver, dns, [ops, crm])
    assert (ops_result.outcome, crm_result.outcome) == ("delivered", "dead")
    assert len(receiver.heads) == 1
    assert network.connects == [("127.0.0.1", receiver.port)]


def test_redirects_are_not_followed() -> None:
    """A 307 to the metadata address is a dead letter, never a second request."""
    dns, receiver = StubDNS({"hooks.test": ["127.0.0.1"]}), Receiver(responses=[REDIRECT])
    [result], network = deliver(
        receiver, dns, [{"id": "crm", "url": "http://hooks.test:{port}/in"}], ALLOWED
    )
    assert (result.outcome, result.status_code) == ("dead", 307)
    assert len(receiver.heads) == 1
    assert network.connects == [("127.0.0.1", receiver.port)]


def test_a_certificate_for_another_name_is_refused() -> None:
    """TLS checks the certificate against the URL's name, not the dialled address: a
    receiver whose certificate names another host is a transport error (retried)."""
    dns = StubDNS({"receiver.test": ["127.0.0.1"]})
    receiver = Receiver(tls_name="other.test")
    [result], _ = deliver(
        receiver, dns, [{"id": "crm", "url": "https://receiver.test:{port}/hook"}], ALLOWED
    )
    assert result.outcome == "retry"
    assert receiver.sni == ["receiver.test"]
    assert receiver.heads == []
