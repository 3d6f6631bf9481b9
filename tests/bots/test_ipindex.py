"""The interval index: parsing, priority, specificity, and agreement with a brute-force search."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.bots.ipindex import CATEGORY_PRIORITY, IpIndex, IpLabel, parse_cidr, parse_ip

CLOUD = IpLabel("cloud", "c", "region")
VENDOR = IpLabel("vendor", "v", "scanner")
CDN = IpLabel("cdn", "x", "edge")


def test_parse_ip_accepts_v4_v6_and_mapped() -> None:
    """IPv4, IPv6 (with zone id) and IPv4-mapped IPv6 parse; junk does not."""
    assert parse_ip("10.0.0.1") == (4, 0x0A000001)
    assert parse_ip("::ffff:10.0.0.1") == (4, 0x0A000001)
    assert parse_ip("fe80::1%eth0") == (6, int(ipaddress.IPv6Address("fe80::1")))
    for junk in ("", "1", "999.1.1.1", "1.2.3", "not an ip", "1.2.3.4/24"):
        assert parse_ip(junk) is None


def test_parse_cidr_ignores_host_bits_and_rejects_bad_prefixes() -> None:
    """Host bits are masked; a prefix beyond the address size is rejected."""
    assert parse_cidr("10.0.0.7/24") == (4, 0x0A000000, 0x0A0000FF)
    assert parse_cidr("10.0.0.7") == (4, 0x0A000007, 0x0A000007)
    assert parse_cidr("::ffff:10.0.0.0/120") == (4, 0x0A000000, 0x0A0000FF)
    assert parse_cidr("10.0.0.0/33") is None
    assert parse_cidr("10.0.0.0/x") is None


def test_higher_priority_wins_even_when_broader() -> None:
    """A vendor block keeps its label over a more specific generic cloud block inside it."""
    index = IpIndex([("40.92.0.0/14", VENDOR), ("40.94.16.0/24", CLOUD)])
    assert index.lookup("40.94.16.5") == VENDOR
    assert index.lookup("40.95.255.255") == VENDOR
    assert index.lookup("40.96.0.0") is None


def test_more_specific_wins_at_equal_or_higher_priority() -> None:
    """Inside a cloud block, a specific vendor block wins, and only for its own addresses."""
    index = IpIndex([("20.0.0.0/8", CLOUD), ("20.1.2.0/24", VENDOR), ("2001:db8::/32", CDN)])
    assert index.lookup("20.1.2.0") == VENDOR
    assert index.lookup("20.1.2.255") == VENDOR
    assert index.lookup("20.1.3.0") == CLOUD
    assert index.lookup("2001:db8::1") == CDN
    assert index.lookup("2001:db9::1") is None
    assert index.lookup(None) is None
    assert index.lookup("garbage") is None


LABELS = [IpLabel(category, category, category) for category in CATEGORY_PRIORITY]


@st.composite
def blocks(draw: st.DrawFn) -> tuple[str, IpLabel]:
    length = draw(st.integers(min_value=20, max_value=32))
    base = draw(st.integers(min_value=0, max_value=2**12 - 1)) << 20
    offset = draw(st.integers(min_value=0, max_value=2**20 - 1))
    network = ipaddress.IPv4Network((base + offset, length), strict=False)
    return str(network), draw(st.sampled_from(LABELS))


@settings(max_examples=150, deadline=None)
@given(st.lists(blocks(), max_size=12), st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_lookup_matches_brute_force(items: list[tuple[str, IpLabel]], probes: list[int]) -> None:
    """For any set of blocks, lookup gives the highest priority, then the most specific."""
    index = IpIndex(items)
    probes += [int(ipaddress.IPv4Network(cidr).network_address) for cidr, _ in items]
    for value in probes:
        address = ipaddress.IPv4Address(value)
        holding = [
            (CATEGORY_PRIORITY[label.category], ipaddress.IPv4Network(cidr).prefixlen, label)
            for cidr, label in items
            if address in ipaddress.IPv4Network(cidr)
        ]
        found = index.lookup(str(address))
        if not holding:
            assert found is None
            continue
        best = max(holding, key=lambda item: (item[0], item[1]))
        assert found == best[2]
