"""The SSRF guard at connect time, with stub DNS and a recording network: no socket opens.

What it proves: a name is resolved once, every answer is checked, the connection goes to the
checked address (never the name, so DNS cannot be asked again), TLS and Host keep the name,
and a refused destination is a dead letter naming the address class.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from connector.delivery.addresses import RefusedDestination
from connector.delivery.policy import RetryPolicy
from connector.delivery.resolver import CachingResolver
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings, HttpAction
from tests.delivery.conftest import T0, http_action, make_event
from tests.delivery.stubs import RecordingBackend, StubDNS, recording_client

PUBLIC = "93.184.216.34"  # checked as public, never connected to: the network is a recorder
SETTINGS = DeliverySettings(budget_seconds=3600, max_backoff_seconds=60)
CLOSE = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def job(action_id: str = "crm", delivery_id: str = "dlv_01") -> DeliveryJob:
    return DeliveryJob(delivery_id, action_id, make_event(), 1, None, T0)


def deliver(
    dns: StubDNS,
    network: RecordingBackend,
    *actions: HttpAction,
    jobs: list[DeliveryJob] | None = None,
    settings: DeliverySettings = SETTINGS,
    resolver: CachingResolver | None = None,
) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        async with recording_client(dns, network, resolver) as client:
            sender = Sender(client, {a.id: a for a in actions}, RetryPolicy(settings))
            return [await sender.attempt(j) for j in jobs or [job(actions[0].id)]]

    return asyncio.run(run())


def action(url: str, **overrides: Any) -> HttpAction:
    return http_action(url=url, allow_networks=overrides.pop("allow_networks", []), **overrides)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connects_to_the_checked_address_keeping_host_and_sni(scheme: str) -> None:
    """A public name is resolved once and the checked IP is dialled; Host and SNI keep the name."""
    dns, network = StubDNS({"hooks.example.com": [PUBLIC]}), RecordingBackend()
    [result] = deliver(dns, network, action(f"{scheme}://hooks.example.com/in"))
    assert result.outcome == "delivered"
    port = 443 if scheme == "https" else 80
    assert network.connects == [(PUBLIC, port)]
    assert dns.lookups == ["hooks.example.com"]
    assert b"\r\nHost: hooks.example.com\r\n" in network.sent
    assert network.sni == (["hooks.example.com"] if scheme == "https" else [])


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.5", "private"),
        ("fd00:ec2::254", "cloud metadata"),
    ],
)
def test_a_name_resolving_inside_is_a_dead_letter_naming_the_class(answer: str, kind: str) -> None:
    """A host name that resolves to an internal address is refused without connecting, and
    the delivery is dead at once (no retry) with the address class in its error."""
    dns, network = StubDNS({"sneaky.example.com": [answer]}), RecordingBackend()
    [result] = deliver(dns, network, action("https://sneaky.example.com/x"))
    assert (result.outcome, result.status_code, result.next_attempt_at) == ("dead", None, None)
    assert result.error is not None
    assert result.error.startswith("destination refused: ")
    assert f"is {kind} (" in result.error
    assert network.connects == []


@pytest.mark.parametrize(
    ("answer", "allow", "where"),
    [
        ("127.0.0.1", "127.0.0.0/8", "action"),
        ("10.0.0.5", "10.0.0.0/8", "delivery"),
        ("::1", "::1/128", "action"),
        ("169.254.169.254", "169.254.169.254/32", "delivery"),
    ],
)
def test_allow_networks_in_the_action_or_delivery_open_the_address(
    answer: str, allow: str, where: str
) -> None:
    """An address inside `allow_networks` ([delivery] or the action's own) is connected to."""
    dns, network = StubDNS({"internal.example": [answer]}), RecordingBackend()
    if where == "action":
        the_action, settings = action("http://internal.example/x", allow_networks=[allow]), SETTINGS
    else:
        the_action = action("http://internal.example/x")
        settings = DeliverySettings(budget_seconds=3600, allow_networks=[allow])
    [result] = deliver(dns, network, the_action, settings=settings)
    assert result.outcome == "delivered"
    assert network.connects == [(answer, 80)]


def test_any_internal_answer_refuses_the_name() -> None:
    """A name with a public and an internal answer is refused: every answer is checked."""
    dns, network = StubDNS({"mixed.example": [PUBLIC, "10.0.0.5"]}), RecordingBackend()
    [result] = deliver(dns, network, action("http://mixed.example/"))
    assert result.outcome == "dead"
    assert network.connects == []


def test_rebinding_cannot_reach_the_second_answer() -> None:
    """A name answering public, then 127.0.0.1: each connection dials only what was checked
    for it, so the second connection is refused instead of reaching loopback."""
    dns = StubDNS({"rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    network = RecordingBackend(response=CLOSE)  # no keep-alive: each attempt connects anew
    resolver = CachingResolver(dns, ttl=0)
    the_action = action("http://rebind.example/x")
    first, second = deliver(
        dns, network, the_action, jobs=[job(), job(delivery_id="dlv_02")], resolver=resolver
    )
    assert first.outcome == "delivered"
    assert second.outcome == "dead"
    assert "127.0.0.1 is loopback" in (second.error or "")
    assert network.connects == [(PUBLIC, 80)]
    assert dns.lookups == ["rebind.example", "rebind.example"]


def test_a_connection_kept_for_one_action_never_serves_a_stricter_one() -> None:
    """Two actions to the same internal host, one allow-listed: the allowed one's kept-alive
    connection is not reused by the other (one pool per policy)."""
    dns, network = StubDNS({"shared.example": ["10.0.0.5"]}), RecordingBackend()
    allowed = action("http://shared.example/a", id="ops", allow_networks=["10.0.0.0/8"])
    strict = action("http://shared.example/b", id="crm")
    ops, crm = deliver(dns, network, allowed, strict, jobs=[job("ops"), job("crm")])
    assert (ops.outcome, crm.outcome) == ("delivered", "dead")
    assert network.connects == [("10.0.0.5", 80)]


def test_unresolvable_name_is_retried_not_dead() -> None:
    """A failed lookup is transient: the delivery is retried, and the error names no URL."""
    dns, network = StubDNS({}), RecordingBackend()
    [result] = deliver(dns, network, action("http://nowhere.example/secret-path"))
    assert result.outcome == "retry"
    assert result.error is not None and "name resolution failed" in result.error
    assert "secret-path" not in result.error


def test_a_client_request_without_a_policy_gets_the_delivery_default() -> None:
    """A request not made by the sender still passes the guard with `[delivery]` rules."""
    dns, network = StubDNS({"internal.example": ["10.1.1.1"]}), RecordingBackend()

    async def run() -> None:
        async with recording_client(dns, network) as client:
            with pytest.raises(RefusedDestination):
                await client.post("http://internal.example/")
            with pytest.raises(RefusedDestination):
                await client.post("http://[::ffff:127.0.0.1]:9/")

    asyncio.run(run())
    assert network.connects == []


def test_redirects_are_still_not_followed() -> None:
    """A 3xx to an internal address is a dead letter, never a second request."""
    redirect = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\n"
    network = RecordingBackend(response=redirect + b"Content-Length: 0\r\n\r\n")
    dns = StubDNS({"hooks.example.com": [PUBLIC]})
    [result] = deliver(dns, network, action("http://hooks.example.com/in"))
    assert (result.outcome, result.status_code) == ("dead", 307)
    assert network.connects == [(PUBLIC, 80)]


def test_refused_is_logged_with_a_class_code() -> None:
    """The attempt's log line carries `refused:<class>` as its failure code."""
    dns, network = StubDNS({"meta.example": ["169.254.169.254"]}), RecordingBackend()
    with capture_logs() as logs:
        deliver(dns, network, action("http://meta.example/"))
    assert logs[-1]["failure"] == "refused:cloud_metadata"


def test_httpx_url_to_ip_literal_skips_dns() -> None:
    """An allow-listed literal address is dialled directly, without any lookup."""
    dns, network = StubDNS({}), RecordingBackend()
    [result] = deliver(dns, network, action("http://127.0.0.1:9/x", allow_networks=["127.0.0.1"]))
    assert result.outcome == "delivered"
    assert dns.lookups == []
    assert network.connects == [("127.0.0.1", 9)]


def test_a_refusal_is_not_a_transport_error_to_retry() -> None:
    """Refusals surface as RefusedDestination, which the retry policy classifies as dead."""
    refused = RefusedDestination(ipaddress.ip_address("10.0.0.5"), "private", "RFC 1918")
    assert not isinstance(refused, httpx.HTTPError)
    assert RetryPolicy(SETTINGS).classify(refused) == "dead"
