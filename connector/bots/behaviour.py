"""Behaviour across one message: bursts over its links, every link clicked, scanner pairs.

All functions are pure over the click and the other clicks of the same message (already
filtered to what had arrived). Published thresholds: Marketo flags activities in the same
second (configurable to 3 s) and ignores exact duplicates; autoemails flags 3 unique links
in under 2 s; Spotler flags link-to-link gaps under 100 ms, which no hand on a mouse makes
(Fitts' law puts a pointed click at several hundred ms); CustomerMinds flags every link of
a message with 3 or more links. A repeated click on the same link (double click, reload) is
never burst evidence: only distinct links count.
"""

from __future__ import annotations

import ipaddress
from math import ceil

from connector.bots.records import ClickRecord

Hit = tuple[str, str]

INHUMAN_GAP_SECONDS = 0.1
SAME_SECOND = 1.0


def burst_hits(click: ClickRecord, same_network: list[ClickRecord], window: float) -> list[Hit]:
    """3+ distinct links within `window`; two distinct links implausibly close.

    Only clicks from the same network count (`same_network`: the message's other clicks from
    `click.network`): a burst is one client moving through links faster than a hand can, and
    a person's click next to a gateway's check is no burst.
    """
    occurred, link = click.occurred, click.link_key
    near = [
        (gap, o.link_key)
        for o in same_network
        if o.link_key != link and (gap := abs(o.occurred - occurred)) <= window
    ]
    if not near:
        return []
    hits: list[Hit] = []
    distinct = {other_link for _, other_link in near}
    gap = min(near)[0]
    if len(distinct) >= 2:
        span = max(near)[0]
        hits.append(("burst.links", f"{len(distinct) + 1} distinct links within {span:.2f} s"))
    if gap < INHUMAN_GAP_SECONDS:
        hits.append(("burst.inhuman_gap", f"another link {gap * 1000:.0f} ms apart"))
    elif gap <= SAME_SECOND and not hits:
        hits.append(("burst.same_second", f"another link {gap:.2f} s apart"))
    return hits


def all_links_hit(
    click: ClickRecord, same_network: list[ClickRecord], link_count: int | None, window: float
) -> Hit | None:
    """Nearly every link of a message with 3+ links clicked within `window` by one network."""
    if link_count is None or link_count < 3:
        return None
    occurred = click.occurred
    links = {o.link_key for o in same_network if abs(o.occurred - occurred) <= window}
    links.add(click.link_key)
    needed = link_count if link_count <= 4 else ceil(0.8 * link_count)
    if len(links) < needed:
        return None
    return (
        "behaviour.all_links",
        f"{len(links)} of {link_count} links clicked within {window:.0f} s",
    )


def pair_hit(
    click: ClickRecord, others: list[ClickRecord], window: float, weak: int, strong: int
) -> Hit | None:
    """Decide this click's side when the same link came from another network seconds apart.

    Gateways check a link at click time, so one person's click arrives twice from two
    networks (Mimecast and Cisco docs; resend-node #901 saw the scanner 12 s after the person). The
    partner with the least evidence of its own (IP, agent) stands for the person. A click
    with more evidence than that is the check when its evidence is strong (`strong`: a
    vendor or crawler address, a bot-like agent) or when it came first; a click with only
    weak evidence (a cloud address) that came after the person may be a person on a cloud
    desktop following a check, so it earns nothing. When neither side has any evidence the
    earlier one is the check, because the check usually precedes the redirect to the person;
    equal weak evidence on both sides (a cloud-desktop person, a cloud-hosted check) decides
    nothing.
    """
    if not click.network:
        return None
    partners = [
        o
        for o in others
        if o.link_key == click.link_key
        and o.network
        and o.network != click.network
        and abs(o.occurred - click.occurred) <= window
    ]
    if not partners:
        return None
    person = min(partners, key=lambda o: (o.evidence, o.occurred))
    gap = abs(person.occurred - click.occurred)
    if click.evidence > person.evidence:
        if click.evidence >= strong or click.occurred <= person.occurred:
            return "pair.scanner_check", f"same link from {person.network} {gap:.1f} s apart"
        return None
    scanner = max(partners, key=lambda o: o.evidence)
    if click.evidence == 0 and scanner.evidence >= weak:
        gap = abs(scanner.occurred - click.occurred)
        return (
            "guard.paired_human",
            f"scanner-like request from {scanner.network} {gap:.1f} s apart",
        )
    if click.evidence == person.evidence == 0 and click.occurred < person.occurred:
        return "pair.earlier_check", f"same link from {person.network} {gap:.1f} s later"
    return None


def canonical_ip(version: int, value: int) -> tuple[str, str]:
    """(address, network) in canonical text; the network is the /24 or /48 around it.

    A /24 (IPv4) or /48 (IPv6) is one site or one provider pop: a person's double click or a
    scanner rotating within its block stays inside it (gophish #2646 saw 40.94.89.19-23).
    """
    if version == 4:
        octets = [str((value >> shift) & 255) for shift in (24, 16, 8, 0)]
        return ".".join(octets), ".".join(octets[:3]) + ".0/24"
    address = ipaddress.IPv6Address(value)
    network = ipaddress.IPv6Address((value >> 80) << 80)
    return address.compressed, f"{network.compressed}/48"
