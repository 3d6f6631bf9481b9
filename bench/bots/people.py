"""People in the synthetic corpus: the hard human groups, and what their clicks trigger.

Groups (the failure modes vendors and public threads report): cloud-hosted desktops,
corporate proxies (office NAT, Zscaler), VPNs, iCloud Private Relay, fast readers, several
tabs at once, fast tab bursts, phones behind carrier NAT, double clicks, legacy systems, the
rare person reaching a hidden link. A
person's click may trigger a gateway check from another network (Safe Links, Mimecast,
Proofpoint, Cisco), an Office prefetch, or a link preview after the person shares the link.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any

import pools
from scenarios import Company, Message

TRAITS: dict[str, float] = {
    "typical": 40,
    "fast_reader": 10,
    "multi_tab": 8,
    "tab_burst": 7,
    "mobile": 6,
    "double_click": 8,
    "legacy": 5,
    "outlook_desktop": 5,
    "vpn": 6,
    "private_relay": 5,
    "hidden_link": 1,
}
CLICK_RATE = 0.35  # ASSUMPTION: high on purpose, to have enough human clicks per group
# A newsletter whose readers' mail apps notify them on arrival: many read at the same moment
# (ASSUMPTION: a share of campaigns, and of their recipients who click the headline link
# from the notification). `--mix push.campaign=0.3,push.reader=0.4` changes them.
PUSH: dict[str, float] = {"campaign": 0.15, "reader": 0.25}
EGRESS_KIND = {
    "cloud_desktop": "human_cloud_desktop",
    "zscaler": "human_corporate_proxy",
    "office_nat": "human_corporate_proxy",
}
CHECKING_GATEWAYS = ("safelinks", "mimecast", "proofpoint", "cisco")
CISCO_POOL = pools.pool(random.Random(109), pools.CISCO, 24)  # ASSUMPTION: NAT egress


def person(corpus: Any, rng: random.Random, msg: Message, firm: Company, major: int) -> None:
    if rng.random() > CLICK_RATE:
        return
    trait = rng.choices(list(TRAITS), weights=list(TRAITS.values()))[0]
    if trait in ("vpn", "private_relay", "mobile") and firm.egress != "remote":
        trait = "typical"
    if trait == "hidden_link" and msg.hidden_position is None:
        trait = "typical"
    ip = _address(rng, firm, trait)
    agent = rng.choice(pools.LEGACY_AGENTS) if trait == "legacy" else pools.human_agent(rng, major)
    kind = _kind(trait, firm)
    for link, at, address in _clicks(rng, msg, trait, ip, firm.egress):
        if trait == "outlook_desktop":
            # Office checks the link with its own agent just before opening the browser.
            office = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"
            corpus.click(
                msg, link, at - _s(rng.uniform(0.1, 1.0)), address, office, "bot", "office_prefetch"
            )
        corpus.click(msg, link, at, address, agent, "human", kind)
        _gateway_check(corpus, rng, msg, firm, link, at, major)
    if rng.random() < 0.05:
        _preview(corpus, rng, msg)


def push_readers(corpus: Any, rng: random.Random, msgs: list[Message], major: int) -> None:
    """Readers of a pushed newsletter: the phone's mail app notifies on arrival, and a share
    of the recipients open it and click the headline link (the first) within seconds to a
    minute (ASSUMPTION: 5-60 s, as a fast reader), from the phone's carrier network. Many
    recipients of one campaign then click one link at the same moment, as gateways scanning
    the copies do: the hard case for evidence across recipients (`burst.recipients`).

    Drawn after the rest of the corpus, from its own generator (`rng`, also `corpus.rng`
    meanwhile), so the other groups' clicks stay as they were.
    """
    kept = corpus.rng
    corpus.rng = rng
    try:
        for msg in msgs:
            if rng.random() >= PUSH["reader"]:
                continue
            at = msg.delivered + _s(rng.uniform(5, 60))
            address, agent = pools.residential(rng, 0.2), pools.human_agent(rng, major)
            corpus.click(msg, 0, at, address, agent, "human", "human_push_reader")
    finally:
        corpus.rng = kept


def _s(value: float) -> timedelta:
    return timedelta(seconds=value)


def _kind(trait: str, firm: Company) -> str:
    if trait not in ("typical", "outlook_desktop", "vpn", "private_relay"):
        return f"human_{trait}"
    if trait in ("vpn", "private_relay", "mobile", "tab_burst"):
        return f"human_{trait}"
    if firm.egress in EGRESS_KIND:
        return EGRESS_KIND[firm.egress]
    return "human_behind_gateway" if firm.gateway in CHECKING_GATEWAYS else "human_typical"


def _address(rng: random.Random, firm: Company, trait: str) -> str:
    if firm.egress == "office_nat":
        return firm.office_ip
    if firm.egress == "zscaler":
        return rng.choice(firm.proxies)
    if firm.egress == "cloud_desktop":
        return rng.choice(firm.desktop_ips)
    if trait == "vpn":  # ASSUMPTION: commercial VPNs rent hosting space (DO, AWS) or unlisted
        return rng.choice(
            (
                pools.from_cloud(rng, "digitalocean"),
                pools.from_cloud(rng, "aws", "EC2"),
                pools.residential(rng, 0.0),
            )
        )
    if trait == "private_relay":
        return pools.from_blocks(rng, pools.PRIVATE_RELAY)
    return pools.residential(rng, 0.0 if trait == "mobile" else 0.2)


def _first_delay(rng: random.Random, trait: str) -> float:
    if trait == "fast_reader":  # watching the inbox: notice, open, click (ASSUMPTION >= 4 s)
        return rng.uniform(4, 60)
    # ASSUMPTION: log-normal, median 30 min, from 1 minute to 5 days
    return min(max(math.exp(rng.gauss(math.log(1800), 1.3)), 60), 5 * 86400)


def _clicks(
    rng: random.Random, msg: Message, trait: str, ip: str, firm_egress: str
) -> list[tuple[int, datetime, str]]:
    visible = [i for i in range(len(msg.urls)) if i != msg.hidden_position]
    at = msg.delivered + _s(_first_delay(rng, trait))
    first = rng.choices(visible, weights=[1 / (i + 1) for i in range(len(visible))])[0]
    if trait == "multi_tab":  # ctrl-click: pointing takes ~0.35-2.5 s per link (Fitts' law)
        links = rng.sample(visible, min(len(visible), rng.randint(2, 4)))
        out = []
        for link in links:
            out.append((link, at, ip))
            at += _s(rng.uniform(0.35, 2.5))
        return out
    if trait == "tab_burst":  # middle-clicks down a list of adjacent links (~0.2-0.9 s each)
        links = sorted(rng.sample(visible, min(len(visible), rng.randint(3, 5))))
        out = []
        for link in links:
            out.append((link, at, ip))
            at += _s(rng.uniform(0.2, 0.9))
        return out
    if trait == "mobile":  # carrier-grade NAT keeps a phone's address while its mappings
        # live (RFC 4787 "paired" pooling); after ~30 s idle it may get another address of
        # the carrier's pool (ASSUMPTION: same /16, any /24)
        out, address = [], ip
        for link in rng.sample(visible, min(len(visible), rng.choice((1, 2, 2, 3)))):
            out.append((link, at, address))
            idle = rng.uniform(1.5, 90)
            at += _s(idle)
            if idle > 30:
                moved = ip.rsplit(".", 2)[0] + f".{rng.randrange(256)}.{rng.randrange(1, 255)}"
                address = ip if pools.listed(moved) else moved
        return out
    if trait == "double_click":  # same link twice; a dual-stack home may switch family
        dual_stack = firm_egress == "remote" and ":" not in ip and rng.random() < 0.2
        second_ip = pools.residential(rng, 1.0) if dual_stack else ip
        return [(first, at, ip), (first, at + _s(rng.uniform(0.08, 0.6)), second_ip)]
    if trait == "hidden_link":  # screen reader or plain-text part exposing the hidden link
        return [(msg.hidden_position or 0, at, ip)]
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    out = [(first, at, ip)]
    for link in rng.sample(visible, min(len(visible), count))[: count - 1]:
        at += _s(rng.uniform(15, 1200))
        out.append((link, at, ip))
    return out


def _gateway_check(
    corpus: Any,
    rng: random.Random,
    msg: Message,
    firm: Company,
    link: int,
    at: datetime,
    major: int,
) -> None:
    """Click-time checks: the gateway fetches the link around the person's click."""
    gateway = firm.gateway
    if gateway == "safelinks" and rng.random() < 0.7:
        # Azure/EOP; seconds before or up to 12+ s after the person (resend-node #901)
        address = rng.choice(
            (
                "52.112.103.113",
                pools.from_cloud(rng, "azure", "AZURECLOUD"),
                f"{firm.eop_block}.{rng.randint(2, 250)}",
            )
        )
        agent = rng.choice((pools.scanner_chrome(rng, major), pools.reduced_chrome(rng, major)))
        corpus.click(
            msg, link, at + _s(rng.uniform(-3, 15)), address, agent, "bot", "safelinks_clicktime"
        )
    elif (
        gateway in ("mimecast", "proofpoint", "cisco")
        and rng.random() < {"mimecast": 0.9, "proofpoint": 0.5, "cisco": 0.9}[gateway]
    ):
        # The gateway checks, then redirects the person (Mimecast, Cisco docs).
        # ASSUMPTION: browser-like current agent; Cisco egress is not in any list.
        if gateway == "cisco":  # one proxy service for every customer: a small egress pool
            address = rng.choice(CISCO_POOL)
        else:
            blocks = {"mimecast": pools.MIMECAST, "proofpoint": pools.PROOFPOINT}[gateway]
            address = pools.from_blocks(rng, blocks)
        corpus.click(
            msg,
            link,
            at - _s(rng.uniform(0.3, 3)),
            address,
            pools.reduced_chrome(rng, major),
            "bot",
            f"{gateway}_clicktime",
        )


def _preview(corpus: Any, rng: random.Random, msg: Message) -> None:
    """Someone shared the link: an unfurler fetches it minutes to days later.

    The timing is general knowledge of unfurlers, not re-verified (README.md, "Others").
    """
    agent = rng.choice(pools.PREVIEW_AGENTS)
    address = (
        pools.residential(rng)
        if agent.startswith("WhatsApp")
        else pools.from_cloud(rng, "aws", "EC2")
    )
    link = rng.choice([i for i in range(len(msg.urls)) if i != msg.hidden_position])
    at = msg.delivered + _s(rng.uniform(600, 3 * 86400))
    corpus.click(msg, link, at, address, agent, "bot", "link_preview")
