"""How gateways, bots and people click in the synthetic corpus (facts and assumptions).

Each behaviour cites its public source (vendor docs, issue threads, blog posts) or is
marked ASSUMPTION; README.md repeats them. Nothing here reads the detector's weights: the
corpus is built from descriptions of the clickers, not from the scoring rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pools

ZSCALER_POOL = [pools.from_blocks(random.Random(n), pools.ZSCALER) for n in range(12)]
# Cloud-hosted scanners are multi-tenant services with small egress pools: "one IP across
# many clicks" (Insider); "scanners moved ... to public-cloud hosts" (Pardot).
_POOL_RNG = random.Random(99)
PROOFPOINT_AWS_POOL = [pools.from_cloud(_POOL_RNG, "aws", "EC2") for _ in range(6)]
CLOUD_GATEWAY_POOLS = [
    [pools.from_cloud(_POOL_RNG, provider, prefix) for _ in range(4)]
    for provider, prefix in (("aws", "EC2"), ("gcp", ""), ("azure", "AZURECLOUD"))
]


@dataclass
class Company:
    domain: str
    gateway: str
    egress: str
    office_ip: str
    rng: random.Random
    eop_block: str = field(init=False)
    vendor: int = field(init=False)  # which multi-tenant cloud gateway serves the firm
    desktop_ips: list[str] = field(init=False)
    proxies: list[str] = field(init=False)

    def __post_init__(self) -> None:
        # Safe Links rotates within one /24 per scan (gophish #2646: 40.94.89.19-23)
        self.eop_block = pools.from_blocks(self.rng, pools.EOP).rsplit(".", 1)[0]
        self.vendor = self.rng.randrange(len(CLOUD_GATEWAY_POOLS))
        provider = self.rng.choice(("azure", "azure", "aws"))  # AVD/Windows 365 or WorkSpaces
        prefix = "AZURECLOUD" if provider == "azure" else "EC2"
        self.desktop_ips = [pools.from_cloud(self.rng, provider, prefix) for _ in range(2)]
        self.proxies = self.rng.sample(ZSCALER_POOL, 2)  # Zscaler egress is shared by tenants


@dataclass
class Message:
    id: str
    campaign: str
    provider: str
    recipient: str
    delivered: datetime
    urls: list[str]
    positions: bool
    link_count_known: bool
    hidden_position: int | None


@dataclass
class Template:
    number: int
    provider: str
    urls: list[str]
    positions: bool
    link_count_known: bool
    hidden_position: int | None

    @classmethod
    def random(cls, rng: random.Random, number: int, provider: str) -> Template:
        visible = rng.randint(3, 8)
        urls = [
            f"https://news.sender.example/c{number}/l{i}?utm_source=email" for i in range(visible)
        ]
        hidden = None
        if rng.random() < 0.3:  # honeypot link (Spotler, ActiveCampaign advice)
            hidden = visible
            urls.append(f"https://news.sender.example/c{number}/hp")
        # SendGrid reports url_offset.index; others only the URL (their click webhooks)
        positions = provider == "sendgrid" or rng.random() < 0.3
        return cls(number, provider, urls, positions, rng.random() < 0.5, hidden)

    def message(self, rng: random.Random, firm: Company, person: int, sent: datetime) -> Message:
        delivered = sent + timedelta(seconds=rng.uniform(1, 120))  # ESP queue + SMTP
        return Message(
            id=f"m{self.number}-{firm.domain}-{person}",
            campaign=f"c{self.number}",
            provider=self.provider,
            recipient=f"p{person}@{firm.domain}",
            delivered=delivered,
            urls=self.urls,
            positions=self.positions,
            link_count_known=self.link_count_known,
            hidden_position=self.hidden_position,
        )


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def scan(
    corpus: Any,
    msg: Message,
    at: datetime,
    links: list[int],
    ip: Callable[[], str],
    agent: str | None,
    kind: str,
    gap: tuple[float, ...] | None = None,
) -> None:
    """A gateway visiting links one after another (detonation in a browser)."""
    rng = corpus.rng
    for link in links:
        corpus.click(msg, link, at, ip(), agent, "bot", kind)
        low, high = gap or SCAN_GAP
        at += seconds(rng.uniform(low, high))


# ASSUMPTION: no vendor documents its pacing; every gateway moves from link to link 0.05-1.5 s
# apart (a browser loading each page in turn); gophish logs show assets fetched in seconds.
SCAN_GAP: tuple[float, ...] = (0.05, 1.5)


def delivery_delay(rng: random.Random) -> float:
    """Seconds from delivery to a gateway's scan: "most requests come seconds after delivery"
    (gophish logs); ASSUMPTION: a fifth within 2 minutes, a tenth up to 10 under load.
    """
    roll = rng.random()
    if roll < 0.7:
        return rng.uniform(1, 30)
    return rng.uniform(30, 120) if roll < 0.9 else rng.uniform(120, 600)


def delivery_scans(
    corpus: Any, rng: random.Random, msg: Message, firm: Company, major: int
) -> None:
    everything = list(range(len(msg.urls)))
    start = msg.delivered
    if firm.gateway == "safelinks" and rng.random() < 0.6:
        # Detonation seconds after delivery (gophish logs), sometimes minutes under load
        # (ASSUMPTION)
        delay = delivery_delay(rng)
        links = everything if rng.random() < 0.8 else sorted(rng.sample(everything, 2))
        scan(
            corpus,
            msg,
            start + seconds(delay),
            links,
            lambda: f"{firm.eop_block}.{rng.randint(2, 250)}",
            pools.scanner_chrome(rng, major),
            "safelinks_delivery",
            SCAN_GAP,
        )
    if firm.gateway == "safelinks" and rng.random() < 0.1:
        # Automated investigation re-crawls hours later (blog posts, unconfirmed).
        # ASSUMPTION: a third from generic Azure space with a current agent.
        links = sorted(rng.sample(everything, min(len(everything), rng.randint(1, 4))))
        azure = rng.random() < 0.35
        address = pools.from_cloud(rng, "azure", "AZURECLOUD") if azure else ""
        scan(
            corpus,
            msg,
            start + timedelta(hours=rng.uniform(1, 8)),
            links,
            lambda: address or f"{firm.eop_block}.{rng.randint(2, 250)}",
            pools.reduced_chrome(rng, major) if azure else pools.scanner_chrome(rng, major),
            "safelinks_recrawl",
            (0.2, 4.0),
        )
    if firm.gateway == "proofpoint" and rng.random() < 0.8:
        # Every link, plus scrambled-UTM variants (mautic #9798). ASSUMPTION: sandboxes run
        # half in Proofpoint blocks, half in AWS; agent is a current reduced Chrome.
        in_aws = rng.random() < 0.5
        address = (
            rng.choice(PROOFPOINT_AWS_POOL) if in_aws else pools.from_blocks(rng, pools.PROOFPOINT)
        )
        agent = pools.reduced_chrome(rng, major)
        at = start + seconds(delivery_delay(rng))
        scan(corpus, msg, at, everything, lambda: address, agent, "proofpoint_delivery")
        for link in rng.sample(everything, 2):
            url = msg.urls[link].replace(
                "utm_source=email", f"utm_source=em{rng.randrange(999)}ail"
            )
            corpus.click(
                msg,
                link,
                at + seconds(rng.uniform(0.5, 6)),
                address,
                agent,
                "bot",
                "proofpoint_delivery",
                url=url,
            )
    if firm.gateway == "barracuda" and rng.random() < 0.9:
        # Declares itself: "Barracuda Sentinel (EE)" (Braze list)
        scan(
            corpus,
            msg,
            start + seconds(delivery_delay(rng)),
            everything,
            lambda: pools.from_blocks(rng, pools.BARRACUDA),
            "Barracuda Sentinel (EE)",
            "barracuda_delivery",
            SCAN_GAP,
        )
    if rng.random() < 0.02:
        # Link checkers and scripts: HTTP libraries, headless browsers, empty agents; an ESP
        # that classifies agents (Mailgun client-type "robot") says so some of the time.
        links = sorted(rng.sample(everything, rng.randint(1, 3)))
        address = pools.from_cloud(rng, rng.choice(("aws", "digitalocean", "gcp")))
        hint = "robot" if rng.random() < 0.3 else None
        at = start + seconds(rng.uniform(60, 2 * 86400))
        for link in links:
            corpus.click(
                msg,
                link,
                at,
                address,
                rng.choice(pools.LIBRARY_AGENTS),
                "bot",
                "http_library",
                hint=hint,
            )
            at += seconds(rng.uniform(0.1, 5))
