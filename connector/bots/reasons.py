"""Every reason code the detector can emit, with its default points and why it earns them.

One table so the docs, the settings validator and the tests agree. Points are additive and
the total is clamped to 0..100. The weights come from published facts (vendor docs and
public issue threads, cited per code in bench/bots/README.md), not from fitting a corpus: a
signal that alone proves automation (a declared bot agent, a HEAD request, a hidden link)
is worth at least the default threshold of 60. A "strong" signal people almost never
produce (a vendor or crawler address, a click under 2 s after delivery, links under 100 ms
apart) is worth 45. A "weak" signal that a documented human group produces routinely (cloud
desktops and VPNs: cloud IPs; fast readers: 2-60 s; people opening several tabs: bursts at
human pace) is worth at most 30, so that any two weak signals stay under 60: a person in
two hard groups at once is still not flagged. The burst and all-links reasons describe the
same behaviour, so only the stronger of them counts.
"""

from __future__ import annotations

from typing import NamedTuple


class ReasonSpec(NamedTuple):
    points: int
    why: str


REASONS: dict[str, ReasonSpec] = {
    # User agent
    "ua.scanner": ReasonSpec(90, "agent of a known mail scanner or link-preview fetcher"),
    "ua.known_bot": ReasonSpec(80, "agent matched the crawlerdetect crawler/bot list"),
    "ua.empty": ReasonSpec(60, "empty or placeholder agent: every browser sends one"),
    "ua.absent": ReasonSpec(
        60, "no agent, from a source whose clicks carry one: every browser sends one"
    ),
    "ua.full_build": ReasonSpec(30, "desktop Chrome with a full build number (reduced since M101)"),
    "ua.outdated": ReasonSpec(20, "browser major version far behind the click date"),
    "ua.impossible": ReasonSpec(45, "a browser version that does not run on the named OS"),
    # IP address
    "ip.vendor": ReasonSpec(45, "address of a mail-security vendor (EOP, Mimecast, ...)"),
    "ip.crawler": ReasonSpec(60, "address on a published crawler/fetcher list (no people)"),
    "ip.service": ReasonSpec(45, "a large provider's own (non-customer) space: its fetchers"),
    "ip.cloud": ReasonSpec(25, "public-cloud or hosting address"),
    "ip.cdn": ReasonSpec(10, "CDN/relay egress shared by bots and privacy relays"),
    "ip.fanout": ReasonSpec(25, "one address clicked for many recipients within minutes"),
    # Timing against the delivered event
    "timing.before_delivery": ReasonSpec(45, "click happened before the message was delivered"),
    "timing.under_2s": ReasonSpec(45, "click under 2 s after delivery"),
    "timing.under_10s": ReasonSpec(30, "click under 10 s after delivery"),
    "timing.under_30s": ReasonSpec(20, "click under 30 s after delivery"),
    "timing.under_60s": ReasonSpec(10, "click under 60 s after delivery"),
    # Behaviour across one message
    "burst.links": ReasonSpec(30, "3+ distinct links of one message within the burst window"),
    "burst.inhuman_gap": ReasonSpec(45, "two distinct links under 100 ms apart"),
    "burst.same_second": ReasonSpec(15, "two distinct links within one second"),
    "burst.networks": ReasonSpec(60, "links of one message from 3+ networks within seconds"),
    "burst.recipients": ReasonSpec(
        30, "3+ recipients clicked this link of the campaign within the burst window"
    ),
    "burst.proven": ReasonSpec(
        60, "one sweep of links with a click that proves automation (hidden link, HEAD, ...)"
    ),
    "behaviour.all_links": ReasonSpec(
        30, "nearly every link of a 3+ link message clicked in one walk"
    ),
    "behaviour.many_links": ReasonSpec(
        30, "4+ distinct links of one message in one walk (steps of at most 6 s)"
    ),
    "behaviour.more_links": ReasonSpec(
        45, "more distinct links clicked than the message holds: links not in it"
    ),
    "behaviour.at_delivery": ReasonSpec(
        20, "that burst/every-link visit came minutes from delivery"
    ),
    "pair.scanner_check": ReasonSpec(35, "same link from another network seconds apart"),
    "pair.earlier_check": ReasonSpec(20, "same link from another network; this one came first"),
    "pair.check_first": ReasonSpec(
        60, "a fetch of the link, then the person from another network: a click-time check"
    ),
    "pair.known_checker": ReasonSpec(
        60, "a fetch, then another network: from an address that checked for other firms"
    ),
    "guard.paired_human": ReasonSpec(-20, "paired with a scanner check: a person clicked"),
    # Direct evidence
    "link.honeypot": ReasonSpec(70, "hidden or honeypot link"),
    "http.head": ReasonSpec(80, "HEAD request: browsers navigate with GET"),
    "http.prefetch": ReasonSpec(60, "a browser prefetch of a trigger link, not a navigation"),
    "http.method": ReasonSpec(60, "request method a browser does not use to follow a link"),
    "esp.bot_hint": ReasonSpec(60, "the ESP marked the click as automated"),
}
