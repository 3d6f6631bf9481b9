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
from bisect import bisect_right
from collections.abc import Callable
from math import ceil
from operator import attrgetter

from connector.bots.records import ClickRecord

Hit = tuple[str, str]

INHUMAN_GAP_SECONDS = 0.1
SAME_SECOND = 1.0
# A click-time check precedes the redirect it allows: a gap this long or more is a fetch
# and then a navigation, not one double click's two requests (~0.1-0.5 s apart).
CHECK_FIRST_GAP = 0.25
CHECK_FIRST_WITHIN = 5.0  # the check, then the redirected person: seconds (Mimecast, Cisco)
NETWORKS_WINDOW = 10.0  # a sweep through links from this many seconds
NETWORKS_NEEDED = 3
MANY_LINKS = 4
# A sandbox walking links at a page load's pace: at most this long from one link to the next
# (ASSUMPTION, as the corpus's slowest sandboxes); a reader's next link comes minutes later.
PAGE_LOAD_GAP = 6.0
_OCCURRED = attrgetter("occurred")
BURST_WALK = 10.0  # how far a walk at a burst's pace is followed (burst.networks' window)


def chained(
    click: ClickRecord, others: list[ClickRecord], gap: float, window: float
) -> list[ClickRecord]:
    """The clicks of `others` (ordered by time) linked to `click` by steps of at most `gap`
    seconds, within `window` of it: one client's walk through the links. A click standing
    apart (a reader's click a minute after a gateway's sweep) is no part of the walk."""
    occurred = click.occurred
    low = high = bisect_right(others, occurred, key=_OCCURRED)  # others[:high] come no later
    at = occurred
    while low:
        then = others[low - 1].occurred
        if at - then > gap or occurred - then > window:
            break
        at = then
        low -= 1
    at, end = occurred, len(others)
    while high < end:
        then = others[high].occurred
        if then - at > gap or then - occurred > window:
            break
        at = then
        high += 1
    return others[low:high]


def burst_hits(click: ClickRecord, same_network: list[ClickRecord], window: float) -> list[Hit]:
    """3+ distinct links within `window`, or in a walk (`chained`) whose every step is within
    `window`; two distinct links implausibly close.

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
    elif len(same_network) > 1:  # a walk at a burst's pace reaches further than `window`
        walk = [o for o in chained(click, same_network, window, BURST_WALK) if o.link_key != link]
        distinct = {o.link_key for o in walk}
        if len(distinct) >= 2:
            span = max(abs(o.occurred - occurred) for o in walk)
            hits.append(
                ("burst.links", f"{len(distinct) + 1} distinct links in a walk of {span:.2f} s")
            )
    if gap < INHUMAN_GAP_SECONDS and _sub_second(occurred, near, same_network):
        hits.append(("burst.inhuman_gap", f"another link {gap * 1000:.0f} ms apart"))
    elif gap <= SAME_SECOND and not hits:
        hits.append(("burst.same_second", f"another link {gap:.2f} s apart"))
    return hits


def _sub_second(occurred: float, near: list[tuple[float, str]], others: list[ClickRecord]) -> bool:
    """Whether the times can show a sub-100 ms gap: not when both are whole seconds, as
    SendGrid's, Customer.io's and Brevo's click times are (two clicks 0.4 s apart then
    read as 0 ms)."""
    if occurred != int(occurred):
        return True
    gap = min(near)[0]
    return any(o.occurred != int(o.occurred) for o in others if abs(o.occurred - occurred) == gap)


def networks_hit(click: ClickRecord, others: list[ClickRecord]) -> Hit | None:
    """Distinct links of one message, each clicked once, from 3+ different networks within
    seconds: one client sweeping the links through rotating exits (residential proxy
    networks rotate per request; sandboxes draw from an egress pool). A person stays on one
    network (carrier NAT keeps a phone's address while it is active, RFC 4787 "paired"
    pooling); a person behind a click-time gateway adds a check on the *same* link, so
    links clicked twice do not count.
    """
    if not click.network:
        return None
    low, high = click.occurred - NETWORKS_WINDOW, click.occurred + NETWORKS_WINDOW
    by_link: dict[str, list[str]] = {click.link_key: [click.network]}
    for other in others:
        if low <= other.occurred <= high and other.network:
            by_link.setdefault(other.link_key, []).append(other.network)
    if len(by_link) < NETWORKS_NEEDED or len(by_link[click.link_key]) > 1:
        return None
    singles = [seen[0] for seen in by_link.values() if len(seen) == 1]
    networks = len(set(singles))
    if networks < NETWORKS_NEEDED:
        return None
    return (
        "burst.networks",
        f"{len(singles)} links from {networks} networks within {NETWORKS_WINDOW:.0f} s",
    )


def walk_links(click: ClickRecord, same_network: list[ClickRecord], window: float) -> set[str]:
    """The distinct links of the walk (`chained`: steps of at most PAGE_LOAD_GAP, within
    `window`) this click belongs to, its own included."""
    links = {o.link_key for o in chained(click, same_network, PAGE_LOAD_GAP, window)}
    links.add(click.link_key)
    return links


def all_links_hit(links: set[str], link_count: int | None) -> Hit | None:
    """Nearly every link of a message with 3+ links clicked by one network in one walk
    (`walk_links`); else, whatever the message holds, MANY_LINKS or more in one walk: a
    reader clicks one to three links minutes apart, a person opening tabs does it within
    seconds (a burst, which outweighs this), a sandbox walking the links at a page load's
    pace does neither."""
    if link_count is not None and link_count >= 3:
        needed = link_count if link_count <= 4 else ceil(0.8 * link_count)
        if len(links) >= needed:
            return (
                "behaviour.all_links",
                f"{len(links)} of {link_count} links clicked in one walk",
            )
    if len(links) >= MANY_LINKS:
        return "behaviour.many_links", f"{len(links)} distinct links in one walk"
    return None


def more_links_hit(links: set[str], link_count: int) -> Hit | None:
    """More distinct links of a message clicked in one walk (`walk_links`) by one network
    than the message holds (`message.link_count`): some of them are not in the message. A
    person can only follow the links it shows; scanners rewrite what they fetch
    (Proofpoint's scrambled-UTM variants, mautic #9798). CustomerMinds flags "more clicks
    than links"; this counts distinct links, so reloads and double clicks do not count.
    """
    if len(links) <= link_count:
        return None
    return (
        "behaviour.more_links",
        f"{len(links)} distinct links in one walk; the message holds {link_count}",
    )


def pair_hit(
    click: ClickRecord,
    others: list[ClickRecord],
    window: float,
    evidence: tuple[int, int, int],
    known_checker: Callable[[], bool] | None = None,
) -> Hit | None:
    """Decide this click's side when the same link came from another network seconds apart.

    Gateways check a link at click time, so one person's click arrives twice from two
    networks (Mimecast and Cisco docs; resend-node #901 saw the scanner 12 s after the person). The
    partner with the least evidence of its own (IP, agent) stands for the person. A click
    with more evidence than that is the check when its evidence is strong (`strong`: a
    vendor or crawler address, a bot-like agent) or when it came first; a click with only
    weak evidence (a cloud address) that came after the person may be a person on a cloud
    desktop following a check, so it earns nothing, unless it came later than a redirect
    takes (CHECK_FIRST_WITHIN). When neither side has any evidence the earlier one is the
    check, because the check usually precedes the redirect to the person (`pair.check_first`
    when the order is sure); equal weak evidence on both sides (a cloud-desktop person, a
    cloud-hosted check) decides nothing. A partner that is itself one step of a scanner's
    sweep (through rotating exits, or one that reached a proven automated click such as the
    hidden link) is no person, so it lends this click no side (`_no_person`). A plain fetch
    whose order or partner is not sure (the partner has weak evidence, or came in the same
    whole second) is the check when `known_checker()` says its address checked links for
    other organisations (`pair.known_checker`, checkers.py).

    `evidence`: the (weak, strong, proof) points that settle which side is the scanner.
    """
    weak, strong, proof = evidence
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
        if click.evidence < strong and _no_person(person, others, click, window, proof):
            return None  # the partner is itself a step of a scanner's sweep
        if click.evidence >= strong or click.occurred < person.occurred:
            return "pair.scanner_check", f"same link from {person.network} {gap:.1f} s apart"
        if person.evidence == 0 and gap > CHECK_FIRST_WITHIN:
            # Too late to be a person redirected after that click's check: a scan that
            # followed the person (Safe Links fetched 12 s after, resend-node #901).
            return "pair.scanner_check", f"same link {gap:.1f} s after {person.network}"
        return None
    if click.evidence == 0:
        # A network with evidence and no plain click is a scanner's: this is the person. An
        # Office prefetch from the person's own address beside a plain click is no scanner.
        plain = {o.network for o in partners if o.evidence == 0}
        scanners = [o for o in partners if o.evidence >= weak and o.network not in plain]
        if scanners:
            scanner = max(scanners, key=lambda o: o.evidence)
            if known_checker is not None and scanner.evidence < strong:
                found = _known_checker_hit(click, partners, others, window, evidence, known_checker)
                if found:
                    return found
            gap = abs(scanner.occurred - click.occurred)
            return (
                "guard.paired_human",
                f"scanner-like request from {scanner.network} {gap:.1f} s apart",
            )
    if click.evidence == person.evidence == 0:
        # the person a check precedes: the first plain click after this one (an Office
        # prefetch from the person's own address, or an earlier check, may stand beside it)
        later = [o for o in partners if o.evidence == 0 and o.occurred > click.occurred]
        if later:
            person = min(later, key=_OCCURRED)
            gap = person.occurred - click.occurred
            if _no_person(person, others, click, window, proof):
                return None  # what followed is a step of a scanner's sweep, not a redirect
            if _ordered(click.occurred, person.occurred) and _same_family(click.ip, person.ip):
                return (
                    "pair.check_first",
                    f"{person.network} followed on this link {gap:.1f} s later",
                )
        if known_checker is not None:
            found = _known_checker_hit(click, partners, others, window, evidence, known_checker)
            if found:
                return found
        if later and gap <= CHECK_FIRST_WITHIN:  # a check precedes its redirect by seconds
            return "pair.earlier_check", f"same link from {person.network} {gap:.1f} s later"
    return None


def _known_checker_hit(
    click: ClickRecord,
    partners: list[ClickRecord],
    others: list[ClickRecord],
    window: float,
    evidence: tuple[int, int, int],
    known_checker: Callable[[], bool],
) -> Hit | None:
    """This plain fetch is the check of a pair whose order or partner is not sure (a
    partner with weak evidence, or one in the same whole second) when its address checked
    links for other organisations: the first partner without strong evidence that came no
    earlier, within a redirect's time, and no step of a sweep. Either IP family: an address
    that checks for other firms is no dual-stack home sending a double click's second half."""
    _, strong, proof = evidence
    occurred = click.occurred
    near = [
        o
        for o in partners
        if o.evidence < strong and 0.0 <= o.occurred - occurred <= CHECK_FIRST_WITHIN
    ]
    if not near:
        return None
    follower = min(near, key=_OCCURRED)
    if _no_person(follower, others, click, window, proof) or not known_checker():
        return None
    gap = follower.occurred - occurred
    return (
        "pair.known_checker",
        f"{click.ip} checked links for other organisations; {follower.network} followed"
        f" {gap:.1f} s later",
    )


def _no_person(
    partner: ClickRecord, others: list[ClickRecord], click: ClickRecord, window: float, proof: int
) -> bool:
    """`partner` is one step of a scanner's sweep, not the person a check follows: a sweep
    through rotating exits (`networks_hit` from its side, `click` left out), or its own
    network's walk reached a click that proves automation (`proven_sweep_hit`: a spoofed
    Chrome that followed the hidden link, where a fast reader on a cloud desktop had
    clicked one of its links seconds before)."""
    rest = [o for o in others if o is not partner and o.link_key != click.link_key]
    if networks_hit(partner, rest) is not None:
        return True
    network = partner.network
    swept = [o for o in others if o is not partner and o.network == network]
    return any(o.evidence >= proof for o in swept) and (
        proven_sweep_hit(partner, swept, window, proof) is not None
    )


def _same_family(a: str, b: str) -> bool:
    """A dual-stack home may switch between IPv4 and IPv6 between two requests."""
    return (":" in a) == (":" in b)


def _ordered(first: float, then: float) -> bool:
    """`first` surely came before `then`, by at least CHECK_FIRST_GAP when the times say so.
    Whole-second times (both truncated) keep the order but not the gap (10.95 and 11.05 read
    as 10 and 11); a different second is enough there: the pace CHECK_FIRST_GAP guards
    against is one machine's double click, and one machine's two requests do not leave
    from two networks of one IP family."""
    gap = then - first
    if gap > CHECK_FIRST_WITHIN:
        return False
    if first == int(first) and then == int(then):
        return gap >= SAME_SECOND
    return gap >= CHECK_FIRST_GAP


def proven_sweep_hit(
    click: ClickRecord, same_network: list[ClickRecord], pair_window: float, proof: int
) -> Hit | None:
    """This click is part of a sweep (distinct links of the message from one network, one
    walk: `chained` by steps of at most PAGE_LOAD_GAP) in which another click proves
    automation by itself (`evidence` >= `proof`: a hidden link, a HEAD, the ESP's bot flag,
    a declared agent).

    Once one filter fires on a send, the same client's other clicks are discarded (Paminga:
    15 minutes of the same IP or agent); here only the clicks chained to it at a scanner's
    pace count, which also holds when the webhook carries neither IP nor agent (a sweep
    through every link of a message, its hidden one included). Links clicked twice are left
    out (`unpaired`): a person's click next to a check or a prefetch of the same link lends
    nothing to the person's next link.
    """
    if click.evidence >= proof or not any(o.evidence >= proof for o in same_network):
        return None
    walk = chained(click, unpaired(click, same_network, pair_window), PAGE_LOAD_GAP, pair_window)
    for other in walk:
        if other.evidence >= proof:
            span = abs(other.occurred - click.occurred)
            return "burst.proven", f"one sweep with a proven automated click {span:.1f} s away"
    return None


def unpaired(click: ClickRecord, others: list[ClickRecord], window: float) -> list[ClickRecord]:
    """`others` without clicks on links clicked twice within `window`; none at all when
    this click's own link was.

    Without addresses every click of a message looks like one network's: a person's click
    and the gateway's check of it (same link, seconds apart), or a fast reader's click in
    the middle of a scanner's sweep, would share the scanner's burst. Such a click cannot be
    told from its twin, so it earns no burst evidence and lends none.
    """
    occurred = click.occurred
    seen: dict[str, int] = {click.link_key: 1}
    for other in others:
        if abs(other.occurred - occurred) <= window:
            seen[other.link_key] = seen.get(other.link_key, 0) + 1
    if seen[click.link_key] > 1:
        return []
    return [o for o in others if seen.get(o.link_key, 0) < 2]


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
