"""Which addresses an action may reach: the SSRF guard's policy, pure and cheap.

An action URL is configuration, but configuration is often pasted from a no-code builder or a
ticket, and a webhook sender that will POST signed JSON to `127.0.0.1:6379` or
`169.254.169.254` turns a typo or a hostile host name into a request from inside our network.
So every destination address, literal or resolved, is classified here, and anything that is
not a public unicast address is refused unless an `allow_networks` entry covers it.

Refused classes (first match wins; IPv6 forms that embed an IPv4 address, i.e. IPv4-mapped
`::ffff:a.b.c.d`, SIIT `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`, are
judged by the IPv4 address they reach). Special-purpose registries:
https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry

  cloud metadata  instance credentials endpoints; refused unless an allow entry names the
                  exact address (a /32 or /128), so allowing a whole range such as
                  169.254.0.0/16 for a link-local appliance never opens them by accident
  loopback        127.0.0.0/8, ::1
  unspecified     0.0.0.0/8 (0.0.0.0 reaches the local host on Linux), ::
  private         10/8, 172.16/12, 192.168/16 (RFC 1918)
  shared (CGNAT)  100.64.0.0/10 (RFC 6598; carrier NAT and some clouds' internal services)
  link-local      169.254.0.0/16, fe80::/10
  unique-local    fc00::/7 (RFC 4193, the IPv6 counterpart of RFC 1918)
  multicast       224.0.0.0/4, ff00::/8
  reserved        240.0.0.0/4 and broadcast, documentation and benchmarking ranges, IETF
                  protocol assignments, deprecated IPv6 forms (site-local, IPv4-compatible),
                  and anything else Python's `ipaddress` does not call global
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Each entry: the address and whose metadata service it is.
CLOUD_METADATA: dict[IPAddress, str] = {
    ipaddress.ip_address(address): owner
    for address, owner in {
        # AWS EC2 IMDS, Google Cloud, Azure IMDS, OpenStack, DigitalOcean, Oracle Cloud,
        # Hetzner, Huawei, Linode: the de-facto standard metadata address
        "169.254.169.254": "AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle and others",
        "fd00:ec2::254": "AWS EC2 IMDS over IPv6",
        "169.254.170.2": "AWS ECS task metadata and credentials",
        "169.254.170.23": "AWS EKS Pod Identity agent",
        "fd00:ec2::23": "AWS EKS Pod Identity agent over IPv6",
        "fd20:ce::254": "Google Cloud metadata server over IPv6",
        "100.100.100.200": "Alibaba Cloud ECS metadata",
        "169.254.0.23": "Tencent Cloud metadata",
        # A public address: only this table stops it.
        "168.63.129.16": "Azure WireServer (host agent)",
        "192.0.0.192": "Oracle Cloud legacy metadata",
    }.items()
}

_CLASSES: tuple[tuple[str, str, tuple[IPNetwork, ...]], ...] = tuple(
    (name, why, tuple(ipaddress.ip_network(net) for net in nets))
    for name, why, nets in (
        ("loopback", "this host", ("127.0.0.0/8", "::1/128")),
        ("unspecified", "reaches this host", ("0.0.0.0/8", "::/128")),
        ("private", "RFC 1918", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
        ("shared (CGNAT)", "RFC 6598", ("100.64.0.0/10",)),
        ("link-local", "RFC 3927 / 4291", ("169.254.0.0/16", "fe80::/10")),
        ("unique-local", "RFC 4193", ("fc00::/7",)),
        ("multicast", "not a unicast host", ("224.0.0.0/4", "ff00::/8")),
        (
            "reserved",
            "not globally routable",
            (
                "240.0.0.0/4",  # includes 255.255.255.255
                "192.0.0.0/24",
                "192.0.2.0/24",
                "198.51.100.0/24",
                "203.0.113.0/24",
                "198.18.0.0/15",
                "2001:db8::/32",
                "2001::/23",
                "100::/64",
                "64:ff9b:1::/48",
                "fec0::/10",
                "::/96",  # IPv4-compatible (deprecated); `::` and `::1` matched above
            ),
        ),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")


class RefusedDestination(Exception):
    """A delivery's destination address is not allowed; retrying cannot change that."""

    def __init__(self, address: IPAddress, kind: str, why: str) -> None:
        self.address = address
        self.kind = kind
        self.code = "_".join(re.findall(r"[a-z0-9]+", kind.lower()))  # for the log line
        self.reason = f"{address} is {kind} ({why})"
        self.advice = (
            "only an allow_networks entry naming exactly this address (/32 or /128) allows it"
            if kind == "cloud metadata"
            else "allow it with allow_networks in [delivery] or in the action"
        )
        super().__init__(f"destination refused: {self.reason}; {self.advice}")


# Policies by their networks (`DestinationPolicy.of`): one object per distinct allow list.
_POLICIES: dict[tuple[IPNetwork, ...], DestinationPolicy] = {}


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """The networks one action may reach besides public addresses; hashable, so it can key a
    connection pool (a kept-alive connection must only serve actions allowed to use it)."""

    allow: tuple[IPNetwork, ...] = ()
    _verdicts: dict[IPAddress, RefusedDestination | None] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )
    # The guard looks its pool up by policy on every request: hashing the networks each
    # time cost five Python calls a delivery (bench/fanout_calls.py).
    _hash: int = field(default=0, init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self.allow))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def of(cls, *allow_lists: Iterable[IPNetwork]) -> DestinationPolicy:
        """One canonical policy for the union of allow lists (order and repeats ignored):
        equal lists give the same object, so a lookup by policy finds it by identity."""
        merged = {net for allow in allow_lists for net in allow}
        allow = tuple(sorted(merged, key=lambda net: (net.version, net)))
        policy = _POLICIES.get(allow)
        if policy is None:
            policy = _POLICIES[allow] = cls(allow)
        return policy

    def refusal(self, address: IPAddress) -> RefusedDestination | None:
        """Why `address` may not be reached, or None; memoised, as few addresses recur."""
        try:
            return self._verdicts[address]
        except KeyError:
            verdict = self._judge(address)
            if len(self._verdicts) < 4096:
                self._verdicts[address] = verdict
            return verdict

    def check(self, addresses: Sequence[IPAddress]) -> None:
        """Raise for the first refused address: a name with any internal answer is refused."""
        for address in addresses:
            refused = self.refusal(address)
            if refused is not None:
                raise refused

    def _judge(self, address: IPAddress) -> RefusedDestination | None:
        target = embedded_ipv4(address) or address
        if target in CLOUD_METADATA:
            exact = any(net.num_addresses == 1 and target in net for net in self.allow)
            return None if exact else RefusedDestination(address, "cloud metadata", _owner(target))
        if any(target in net or address in net for net in self.allow):
            return None
        kind, why = classify(target)
        if kind is None:
            return None
        if target is not address:
            why = f"{why}; it embeds {target}"
        return RefusedDestination(address, kind, why)


def classify(address: IPAddress) -> tuple[str | None, str]:
    """The refused class of an address and its source, or (None, "") for a public one."""
    for name, why, networks in _CLASSES:
        if any(address in net for net in networks):
            return name, why
    if not address.is_global:
        return "reserved", "not globally routable"
    return None, ""


def embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, SIIT, NAT64, 6to4), if any."""
    if isinstance(address, IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _SIIT or address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def literal_address(host: str) -> IPAddress | None:
    """The address a URL host names without DNS, or None for a name.

    Besides standard notation this accepts the legacy IPv4 forms that `getaddrinfo` and
    browsers still honour (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`), so none of
    them can pose as a host name.
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not host[0].isdigit() or not host.replace(".", "").isalnum():
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


# What a URL host of `localhost` (RFC 6761: always loopback) resolves to.
LOCALHOST = (IPv4Address("127.0.0.1"), IPv6Address("::1"))


def host_addresses(host: str) -> tuple[IPAddress, ...]:
    """The addresses a URL host reaches that are known without DNS (none for a name)."""
    literal = literal_address(host)
    if literal is not None:
        return (literal,)
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return LOCALHOST
    return ()


def _owner(address: IPAddress) -> str:
    return CLOUD_METADATA[address]
