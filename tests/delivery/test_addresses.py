"""The SSRF guard's policy: which addresses are refused, which allow lists open them."""

from __future__ import annotations

import ipaddress

import pytest

from connector.delivery.addresses import (
    CLOUD_METADATA,
    DestinationPolicy,
    RefusedDestination,
    host_addresses,
    literal_address,
)

NO_ALLOW = DestinationPolicy()


def net(*networks: str) -> DestinationPolicy:
    return DestinationPolicy.of(ipaddress.ip_network(n) for n in networks)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.5", "private"),
        ("172.16.4.4", "private"),
        ("172.31.255.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
        ("2001:db8::1", "reserved"),
        ("::7f00:1", "reserved"),  # IPv4-compatible form, deprecated
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("168.63.129.16", "cloud metadata"),
        # IPv6 forms that reach an IPv4 address are judged by that address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.5", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:0:127.0.0.1", "loopback"),  # SIIT
        ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_internal_addresses_are_refused_by_class(address: str, kind: str) -> None:
    """Every non-public address class is refused, named by its class."""
    refused = NO_ALLOW.refusal(ipaddress.ip_address(address))
    assert refused is not None
    assert refused.kind == kind
    assert str(refused).startswith(f"destination refused: {ipaddress.ip_address(address)} is")


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    """Public unicast addresses need no allow list."""
    assert NO_ALLOW.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("allow", "address", "allowed"),
    [
        (["127.0.0.0/8"], "127.0.0.1", True),
        (["127.0.0.0/8"], "::ffff:127.0.0.1", True),  # the same destination
        (["127.0.0.0/8"], "::1", False),
        (["10.20.0.0/16"], "10.20.3.4", True),
        (["10.20.0.0/16"], "10.21.0.1", False),
        (["fd00::/8"], "fd12::1", True),
        # metadata endpoints need their own exact entry: ranges never open them
        (["169.254.0.0/16"], "169.254.1.1", True),
        (["169.254.0.0/16"], "169.254.169.254", False),
        (["0.0.0.0/0"], "169.254.169.254", False),
        (["169.254.169.254/32"], "169.254.169.254", True),
        (["100.64.0.0/10"], "100.100.100.200", False),
    ],
)
def test_allow_networks_open_exactly_what_they_name(
    allow: list[str], address: str, allowed: bool
) -> None:
    """An allow list opens the addresses inside it; metadata needs an exact /32 or /128."""
    refused = net(*allow).refusal(ipaddress.ip_address(address))
    assert (refused is None) is allowed


def test_metadata_refusal_says_how_to_allow_it() -> None:
    """A metadata refusal names its owner and the exact-entry rule."""
    refused = NO_ALLOW.refusal(ipaddress.ip_address("169.254.169.254"))
    assert refused is not None
    assert "AWS" in refused.reason
    assert "exactly this address" in refused.advice
    assert refused.code == "cloud_metadata"


def test_every_metadata_address_is_refused() -> None:
    """Each documented metadata address is refused by default."""
    for address in CLOUD_METADATA:
        refused = NO_ALLOW.refusal(address)
        assert refused is not None and refused.kind == "cloud metadata"


def test_check_refuses_a_name_with_any_internal_answer() -> None:
    """A host name is refused when any of its addresses is, even beside public ones."""
    answers = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.5")]
    with pytest.raises(RefusedDestination) as caught:
        NO_ALLOW.check(answers)
    assert caught.value.kind == "private"


def test_policies_with_the_same_networks_are_one_pool_key() -> None:
    """Order and repeats do not make a different policy (one connection pool per policy)."""
    a = net("127.0.0.0/8", "10.0.0.0/8")
    b = DestinationPolicy.of(
        [ipaddress.ip_network("10.0.0.0/8")],
        [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.0.0.0/8")],
    )
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("hooks.example.com", None),
        ("1e100.net", None),
        ("", None),
    ],
)
def test_literal_addresses_include_legacy_ipv4_forms(host: str, expected: str | None) -> None:
    """Numeric forms the OS resolver honours are literals, so none can pose as a name."""
    literal = literal_address(host)
    assert (str(literal) if literal is not None else None) == expected


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "api.localhost"])
def test_localhost_names_are_loopback_without_dns(host: str) -> None:
    """`localhost` and `*.localhost` are loopback by definition (RFC 6761)."""
    assert [str(a) for a in host_addresses(host)] == ["127.0.0.1", "::1"]
