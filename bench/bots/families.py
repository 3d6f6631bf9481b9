"""Scanner families the first corpus lacked: Google's checks, AI mail assistants, cloud
sandboxes, headless browsers behind residential proxies, scanners spoofing desktop Chrome
from small hosters, crawlers without an agent.

Each function models what the client is documented or reported to do (README.md, "Corpus",
cites each source or marks it ASSUMPTION); none reads the detector's weights.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

import pools
import scenarios
from scenarios import Company, Message, delivery_delay, scan

_RNG = random.Random(4242)  # service pools are fixed across runs of one seed
# Multi-tenant services egress from small pools shared by all their customers.
ASSISTANT_POOLS = [
    [pools.from_cloud(_RNG, provider, prefix) for _ in range(4)]
    for provider, prefix in (("aws", "EC2"), ("gcp", ""), ("azure", "AZURECLOUD"), ("aws", "EC2"))
]
# Chat assistants with mail connectors fetch a link when their user asks about a message,
# with the user-triggered agents their makers document (OpenAI's ChatGPT-User, Anthropic's
# Claude-User, Perplexity's Perplexity-User), from the maker's cloud egress (OpenAI and
# Perplexity publish these ranges: chatgpt-user.json, perplexity-user.json).
DECLARED_ASSISTANTS = [
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; "
        "+https://openai.com/bot",
        [pools.from_cloud(_RNG, "azure", "AZURECLOUD") for _ in range(4)],
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; "
        "+Claude-User@anthropic.com)",
        [pools.from_cloud(_RNG, "gcp") for _ in range(4)],
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; "
        "+https://perplexity.ai/perplexity-user)",
        [pools.from_cloud(_RNG, "aws", "EC2") for _ in range(4)],
    ),
]
DECLARED_SHARE = 0.3  # ASSUMPTION: of assistant users, those whose assistant is a chat service
HOSTED_SCANNER_POOLS = [
    pools.pool(_RNG, pools.UNLISTED_HOSTING, 4),
    pools.pool(_RNG, pools.UNLISTED_HOSTING, 4),
    [pools.from_cloud(_RNG, "digitalocean") for _ in range(4)],
    [pools.from_cloud(_RNG, "oracle") for _ in range(4)],
]


def _s(value: float) -> timedelta:
    return timedelta(seconds=value)


def _links(rng: random.Random, msg: Message, low: float, high: float) -> list[int]:
    everything = list(range(len(msg.urls)))
    count = max(1, math.ceil(len(everything) * rng.uniform(low, high)))
    return sorted(rng.sample(everything, min(count, len(everything))))


def google_check(corpus: Any, rng: random.Random, msg: Message, major: int) -> None:
    """Gmail and Workspace fetch some links of incoming mail. Workspace's pre-delivery
    scanning holds the message while it checks (Google Workspace admin help: "enhanced
    pre-delivery message scanning"), so those checks precede the delivered event.
    Addresses: Google-owned space (google-proxy hosts, blog reports), the special-crawler
    list, sometimes Google Cloud (ASSUMPTION); agents: Google-Safety or a Chrome."""
    pre_delivery = rng.random() < 0.35
    at = msg.delivered + _s(-rng.uniform(1, 25) if pre_delivery else delivery_delay(rng))
    roll = rng.random()
    if roll < 0.6:
        blocks = pools.GOOGLE_SERVICE
    elif roll < 0.85:
        blocks = pools.GOOGLE_SPECIAL
    else:
        blocks = []
    address = pools.from_blocks(rng, blocks) if blocks else pools.from_cloud(rng, "gcp")
    agent = rng.choices(
        (
            "Mozilla/5.0 (compatible; Google-Safety)",
            pools.reduced_chrome(rng, major),
            pools.spoofed_chrome(rng, major),
        ),
        weights=(2, 4, 4),
    )[0]
    links = _links(rng, msg, 0.1, 0.6)
    scan(corpus, msg, at, links, lambda: address, agent, "google_linkcheck", (0.2, 5.0))


def ai_assistant(corpus: Any, rng: random.Random, msg: Message, major: int) -> None:
    """An AI inbox assistant (summaries, triage) fetches the message's main links: on
    arrival, or when its user opens the summary (ASSUMPTION: 60/40). Multi-tenant cloud
    service, browser-like agent (Shoplift and Insider describe such clicks; no vendor
    documents its fetcher). A chat assistant with a mail connector (DECLARED_ASSISTANTS)
    fetches when its user asks about the message, with its documented agent."""
    chosen = random.Random(f"{msg.recipient}/assistant")  # a person keeps one assistant
    if chosen.random() < DECLARED_SHARE:
        agent, service = DECLARED_ASSISTANTS[chosen.randrange(len(DECLARED_ASSISTANTS))]
        at = msg.delivered + _s(min(math.exp(rng.gauss(math.log(1800), 1.3)), 86400))
        visible = [i for i in range(len(msg.urls)) if i != msg.hidden_position]
        links = visible[: rng.choice((1, 1, 2))]
        scan(corpus, msg, at, links, lambda: rng.choice(service), agent, "ai_assistant", (1, 8))
        return
    service = ASSISTANT_POOLS[chosen.randrange(len(ASSISTANT_POOLS))]
    if rng.random() < 0.6:
        at = msg.delivered + _s(rng.uniform(2, 180))
    else:
        at = msg.delivered + _s(min(math.exp(rng.gauss(math.log(1800), 1.3)), 86400))
    agent = (
        pools.headless_agent(rng, major)
        if rng.random() < 0.3
        else pools.reduced_chrome(rng, major, rng.choice(("win", "linux")))
    )
    visible = [i for i in range(len(msg.urls)) if i != msg.hidden_position]
    links = visible[: rng.choice((1, 1, 2, 3))]
    scan(corpus, msg, at, links, lambda: rng.choice(service), agent, "ai_assistant", (0.3, 3.0))


def cloud_sandbox(corpus: Any, rng: random.Random, msg: Message, firm: Company, major: int) -> None:
    """Unknown gateways detonating links in cloud sandboxes (Pardot: scanners moved to public
    clouds). ASSUMPTION: most links, some rotate addresses within the pool per link, some
    pace like a slow page load."""
    service = scenarios.CLOUD_GATEWAY_POOLS[firm.vendor]
    rotate = rng.random() < 0.3
    fixed = rng.choice(service)
    gap = (0.05, 1.5) if rng.random() < 0.7 else (0.5, 6.0)
    scan(
        corpus,
        msg,
        msg.delivered + _s(delivery_delay(rng)),
        _links(rng, msg, 0.6, 1.0),
        (lambda: rng.choice(service)) if rotate else (lambda: fixed),
        pools.reduced_chrome(rng, major),
        "cloud_sandbox",
        gap,
    )


def residential_headless(corpus: Any, rng: random.Random, msg: Message, major: int) -> None:
    """Headless browsers behind residential proxy networks, so that phishing kits cannot
    cloak by address (ASSUMPTION: each page load leaves from a new residential exit; the
    proxy networks rotate per request by default)."""
    agent = pools.headless_agent(rng, major)
    scan(
        corpus,
        msg,
        msg.delivered + _s(delivery_delay(rng)),
        _links(rng, msg, 0.5, 1.0),
        lambda: pools.residential(rng, 0.05),
        agent,
        "residential_headless",
        (0.3, 4.0),
    )


def hosted_scanner(
    corpus: Any, rng: random.Random, msg: Message, firm: Company, major: int
) -> None:
    """Smaller security services spoofing a desktop Chrome from rented hosting (ASSUMPTION:
    small hosters outside the clouds' files, or DigitalOcean/Oracle)."""
    service = HOSTED_SCANNER_POOLS[firm.vendor % len(HOSTED_SCANNER_POOLS)]
    address = rng.choice(service)
    scan(
        corpus,
        msg,
        msg.delivered + _s(delivery_delay(rng)),
        _links(rng, msg, 0.4, 1.0),
        lambda: address,
        pools.spoofed_chrome(rng, major),
        "spoofed_chrome",
        (0.1, 3.0),
    )


def empty_agent_crawler(corpus: Any, rng: random.Random, msg: Message) -> None:
    """Crawlers and scripts that send no User-Agent: minutes to days after delivery, a few
    links, from hosting or an unlisted address (ASSUMPTION)."""
    agent = rng.choice(pools.EMPTY_AGENTS)
    roll = rng.random()
    if roll < 0.5:
        address = pools.from_cloud(rng, rng.choice(("aws", "digitalocean", "gcp", "azure")))
    elif roll < 0.8:
        address = pools.from_blocks(rng, pools.UNLISTED_HOSTING)
    else:
        address = pools.residential(rng, 0.0)
    at = msg.delivered + _s(rng.uniform(30, 2 * 86400))
    links = _links(rng, msg, 0.1, 0.5)
    scan(corpus, msg, at, links, lambda: address, agent, "empty_ua_crawler", (0.1, 4.0))


# Share of recipients whose mailbox runs an AI assistant, and of messages a crawler without
# an agent visits (ASSUMPTIONS; --mix changes them).
RATES: dict[str, float] = {"assistant": 0.06, "crawler": 0.015}
_SCANNING = {"gmail": 0.5, "unknown_cloud": 0.9, "residential_proxy": 0.85, "hosted": 0.85}


def scans(corpus: Any, rng: random.Random, msg: Message, firm: Company, major: int) -> None:
    """The new families' clicks on one message, by the firm's gateway and the recipient."""
    gateway = firm.gateway
    if gateway in _SCANNING and rng.random() < _SCANNING[gateway]:
        if gateway == "gmail":
            google_check(corpus, rng, msg, major)
        elif gateway == "unknown_cloud":
            cloud_sandbox(corpus, rng, msg, firm, major)
        elif gateway == "residential_proxy":
            residential_headless(corpus, rng, msg, major)
        else:
            hosted_scanner(corpus, rng, msg, firm, major)
    if _uses_assistant(msg.recipient):
        ai_assistant(corpus, rng, msg, major)
    if rng.random() < RATES["crawler"]:
        empty_agent_crawler(corpus, rng, msg)


def _uses_assistant(recipient: str) -> bool:
    """A person keeps (or does not keep) an assistant for every message: stable per address."""
    return random.Random(recipient).random() < RATES["assistant"]
