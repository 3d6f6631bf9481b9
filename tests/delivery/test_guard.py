"""The SSRF guard on aiohttp's engine, without traffic: stub DNS, a recording socket factory
that refuses every address but 127.0.0.1, and no server.

What it proves: every answer of a name is checked before aiohttp may dial it, aiohttp gets
only checked numeric addresses (so it cannot ask DNS again), refusals are dead letters
naming the address class, `allow_networks` from `[delivery]` or the action opens exactly
what it names, and literal hosts are judged before any lookup or connection.
tests/delivery/test_guard_local.py covers the same guard over real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from connector.delivery.addresses import DestinationPolicy, RefusedDestination
from connector.delivery.client import make_client
from connector.delivery.guard import POLICY_EXTENSION, GuardedResolver
from connector.delivery.policy import RetryPolicy
from connector.delivery.resolver import CachingResolver
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings, HttpAction
from tests.delivery.conftest import RESPX, T0, http_action, make_event
from tests.delivery.stubs import RecordingNetwork, StubDNS

PUBLIC = "93.184.216.34"  # checked as public, never dialled: the network refuses it
SETTINGS = DeliverySettings(budget_seconds=3600, max_backoff_seconds=60)


def job(action_id: str = "crm") -> DeliveryJob:
    return DeliveryJob("dlv_01", action_id, make_event(), 1, None, T0)


def deliver(dns: StubDNS, network: RecordingNetwork, the_action: HttpAction) -> AttemptResult:
    async def run() -> AttemptResult:
        resolver = CachingResolver(dns)
        async with make_client(SETTINGS, resolver, socket_factory=network) as client:
            sender = Sender(client, {the_action.id: the_action}, RetryPolicy(SETTINGS))
            return await sender.attempt(job(the_action.id))

    return asyncio.run(run())


def action(url: str, **overrides: Any) -> HttpAction:
    return http_action(url=url, allow_networks=overrides.pop("allow_networks", []), **overrides)


def resolve(
    answers: list[str], policy: DestinationPolicy, family: int = socket.AF_UNSPEC
) -> list[dict[str, Any]]:
    dns = StubDNS({"hooks.example": answers})
    guarded = GuardedResolver(policy, CachingResolver(dns))
    results = asyncio.run(guarded.resolve("hooks.example", 443, socket.AddressFamily(family)))
    assert dns.lookups == ["hooks.example"]
    return [dict(result) for result in results]


@pytest.mark.parametrize(
    ("answer", "allow"),
    [
        (PUBLIC, None),
        ("127.0.0.1", "127.0.0.0/8"),
        ("10.0.0.5", "10.0.0.0/8"),
        ("::1", "::1/128"),
        ("169.254.169.254", "169.254.169.254/32"),
    ],
)
def test_aiohttp_is_handed_only_the_checked_address_in_numeric_form(
    answer: str, allow: str | None
) -> None:
    """The resolver aiohttp dials from answers the checked IP (never the name), flagged
    numeric so nothing resolves it again, with the name kept for SNI and Host."""
    policy = DestinationPolicy.of([ipaddress.ip_network(allow)] if allow else [])
    [result] = resolve([answer], policy)
    assert (result["host"], result["hostname"], result["port"]) == (answer, "hooks.example", 443)
    assert result["flags"] == socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


def test_the_resolver_answers_the_family_aiohttp_asks_for() -> None:
    """An IPv4-only connector gets only the IPv4 answers, all of them checked."""
    answers = [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]
    assert [r["host"] for r in resolve(answers, DestinationPolicy())] == answers
    assert [r["host"] for r in resolve(answers, DestinationPolicy(), socket.AF_INET)] == [PUBLIC]


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
    """A host name that resolves to an internal address is refused without dialling, and
    the delivery is dead at once (no retry) with the address class in its error."""
    dns, network = StubDNS({"sneaky.example.com": [answer]}), RecordingNetwork()
    result = deliver(dns, network, action("https://sneaky.example.com/x"))
    assert (result.outcome, result.status_code, result.next_attempt_at) == ("dead", None, None)
    assert result.error is not None
    assert result.error.startswith("destination refused: ")
    assert f"is {kind} (" in result.error
    assert network.connects == []


def test_any_internal_answer_refuses_the_name() -> None:
    """A name with a public and an internal answer is refused: every answer is checked."""
    dns, network = StubDNS({"mixed.example": [PUBLIC, "10.0.0.5"]}), RecordingNetwork()
    result = deliver(dns, network, action("http://mixed.example/"))
    assert result.outcome == "dead"
    assert network.connects == []


def test_a_public_answer_is_dialled_at_that_address() -> None:
    """A checked public answer is what aiohttp dials (the recording network refuses it, so
    the attempt fails as unreachable and is retried)."""
    dns, network = StubDNS({"hooks.example.com": [PUBLIC]}), RecordingNetwork()
    result = deliver(dns, network, action("https://hooks.example.com/in"))
    assert network.connects == [(PUBLIC, 443)]
    assert dns.lookups == ["hooks.example.com"]
    assert result.outcome == "retry"


def test_unresolvable_name_is_retried_not_dead() -> None:
    """A failed lookup is transient: the delivery is retried, and the error names no URL."""
    dns, network = StubDNS({}), RecordingNetwork()
    result = deliver(dns, network, action("http://nowhere.example/secret-path"))
    assert result.outcome == "retry"
    assert result.error is not None and "name resolution failed" in result.error
    assert "secret-path" not in result.error
    assert network.connects == []


@RESPX
@pytest.mark.parametrize("where", ["action", "delivery"])
def test_allow_networks_of_the_action_or_delivery_reach_the_request(where: str) -> None:
    """Each request names the policy of `[delivery]` plus its action's own list."""
    route = RESPX.post("http://internal.example/x").mock(return_value=httpx.Response(200))
    allow = ["10.0.0.0/8"]
    settings = DeliverySettings(allow_networks=allow if where == "delivery" else [])
    the_action = action(
        "http://internal.example/x", allow_networks=allow if where == "action" else []
    )

    async def run() -> None:
        async with make_client(settings) as client:
            await Sender(client, {"crm": the_action}, RetryPolicy(settings)).attempt(job())

    asyncio.run(run())
    policy = route.calls.last.request.extensions[POLICY_EXTENSION]
    assert policy.refusal(ipaddress.ip_address("10.0.0.5")) is None
    assert policy.refusal(ipaddress.ip_address("192.168.0.1")) is not None


@pytest.mark.parametrize(
    "url", ["http://internal.example/", "http://[::ffff:127.0.0.1]:9/", "http://127.1:9/"]
)
def test_a_client_request_without_a_policy_gets_the_delivery_default(url: str) -> None:
    """A request not made by the sender still passes the guard with `[delivery]` rules,
    names and literal forms alike, before anything is dialled."""
    dns, network = StubDNS({"internal.example": ["10.1.1.1"]}), RecordingNetwork()

    async def run() -> None:
        async with make_client(SETTINGS, CachingResolver(dns), socket_factory=network) as client:
            with pytest.raises(RefusedDestination):
                await client.post(url)

    asyncio.run(run())
    assert network.connects == []


def test_refused_is_logged_with_a_class_code() -> None:
    """The attempt's log line carries `refused:<class>` as its failure code."""
    dns, network = StubDNS({"meta.example": ["169.254.169.254"]}), RecordingNetwork()
    with capture_logs() as logs:
        deliver(dns, network, action("http://meta.example/"))
    assert logs[-1]["failure"] == "refused:cloud_metadata"


def test_a_refusal_is_not_a_transport_error_to_retry() -> None:
    """Refusals surface as RefusedDestination, which the retry policy classifies as dead."""
    refused = RefusedDestination(ipaddress.ip_address("10.0.0.5"), "private", "RFC 1918")
    assert not isinstance(refused, httpx.HTTPError)
    assert RetryPolicy(SETTINGS).classify(refused) == "dead"
