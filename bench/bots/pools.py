"""Address and user-agent pools for the synthetic corpus, each with where it comes from.

Every pool is a documented fact or a stated assumption (see README.md, "Corpus"). Addresses
inside published ranges are drawn at random from those ranges, so the corpus exercises the
IP data rather than a handful of memorised addresses.
"""

from __future__ import annotations

import ipaddress
import random
from functools import lru_cache

from connector.bots.ipindex import IpLabel
from connector.bots.ipranges import cloudip_sources, load_index

INDEX = load_index(None)
# The hosters' blocks the detector ships since session 11 (connector/bots/data/hosting-*.json)
# stay unlisted to the generator, which models that space as UNLISTED_HOSTING: it draws
# people's and scanners' addresses as before, so a seed gives the same corpus as before.
_HOSTERS = frozenset({"hetzner", "ovh", "linode"})


def listed(address: str) -> IpLabel | None:
    """The address's label in the ranges the generator knows (INDEX without the hosters)."""
    label = INDEX.lookup(address)
    return None if label is not None and label.provider in _HOSTERS else label


_CLOUD = {s.source: s for s in cloudip_sources()}


def _in(rng: random.Random, cidr: str) -> str:
    network = ipaddress.ip_network(cidr, strict=False)
    if network.num_addresses <= 2:
        return str(network.network_address)
    return str(network.network_address + rng.randrange(1, network.num_addresses - 1))


def from_blocks(rng: random.Random, blocks: list[str]) -> str:
    return _in(rng, rng.choice(blocks))


@lru_cache(maxsize=32)
def _cloud_blocks(provider: str, detail_prefix: str) -> list[str]:
    return [
        cidr
        for cidr, category, detail in _CLOUD[provider].ranges
        if category == "cloud"
        and detail.upper().startswith(detail_prefix.upper())
        and ":" not in cidr
    ]


def from_cloud(rng: random.Random, provider: str, detail_prefix: str = "") -> str:
    """An address in a random published block of `provider` whose label starts with prefix."""
    ranges = _cloud_blocks(provider, detail_prefix)
    for _ in range(50):
        address = _in(rng, rng.choice(ranges))
        label = listed(address)
        if label is not None and label.category == "cloud":
            return address
    raise RuntimeError(f"no cloud address found for {provider}")


# Residential/mobile ISP space (assumption: these /8s are mostly consumer access networks);
# any draw that falls in a listed range is rejected, so humans never start on a listed IP.
_RESIDENTIAL_V4 = (
    24,
    67,
    68,
    71,
    73,
    75,
    76,
    81,
    82,
    86,
    87,
    88,
    90,
    92,
    94,
    109,
    176,
    178,
    188,
    217,
)
_RESIDENTIAL_V6 = ("2a02:c7c:", "2a01:cb00:", "2600:1700:", "2003:e2:", "2a00:23c6:")


def residential(rng: random.Random, v6_share: float = 0.2) -> str:
    while True:
        if rng.random() < v6_share:
            prefix = rng.choice(_RESIDENTIAL_V6)
            address = prefix + ":".join(f"{rng.randrange(65536):x}" for _ in range(6))
        else:
            address = f"{rng.choice(_RESIDENTIAL_V4)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"  # noqa: E501
        if listed(address) is None:
            return address


# Vendor blocks (connector/bots/data/SOURCES.md). EOP observed: 40.94.x (gophish
# #2646, Open Collective #3656), 40.107.x; Azure 52.112.103.113 for click-time checks.
EOP = ["40.94.16.0/24", "40.94.89.0/24", "40.107.235.0/24", "40.92.0.0/15", "52.100.0.0/14"]
MIMECAST = [
    "205.139.110.0/24",
    "207.211.30.0/24",
    "216.205.24.0/24",
    "170.10.128.0/22",
    "195.130.217.0/24",
    "91.220.42.0/24",
]
PROOFPOINT = ["148.163.128.0/17", "67.231.144.0/20"]
BARRACUDA = ["209.222.80.0/21"]
GOOGLE_SPECIAL = ["66.249.87.0/27", "66.249.90.32/27", "74.125.148.0/27", "209.85.238.64/27"]
# Zscaler's own egress prefixes (AS53813/AS62044; assumption: not in any cloud list).
ZSCALER = ["165.225.0.0/17", "147.161.128.0/17", "136.226.0.0/16"]
# Cisco's own network (assumption: Cisco's click-time proxy egresses from unlisted space).
CISCO = ["72.163.0.0/16", "173.37.0.0/16"]
# iCloud Private Relay egress (Cloudflare/Akamai partners; assumption: unlisted here).
PRIVATE_RELAY = ["104.28.0.0/16", "172.224.0.0/12"]


def reduced_chrome(rng: random.Random, major: int, platform: str = "win") -> str:
    """Current desktop/mobile browsers as they really send them (UA reduction)."""
    os_part = {
        "win": "Windows NT 10.0; Win64; x64",
        "mac": "Macintosh; Intel Mac OS X 10_15_7",
        "linux": "X11; Linux x86_64",
        "cros": "X11; CrOS x86_64 14541.0.0",
    }[platform]
    return f"Mozilla/5.0 ({os_part}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"  # noqa: E501


def human_agent(rng: random.Random, major: int) -> str:
    """A person's browser: reduced Chrome/Edge, Firefox, Safari, mobile and mail-app webviews."""
    lag = rng.choice((0, 0, 0, 1, 1, 2, 3))
    m = major - lag
    choices = [
        reduced_chrome(rng, m, "win"),
        reduced_chrome(rng, m, "mac"),
        reduced_chrome(rng, m, "linux"),
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{m}.0.0.0 Safari/537.36 Edg/{m}.0.{rng.randrange(1000, 3500)}.{rng.randrange(40, 140)}",  # noqa: E501
        f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{m + 2}.0) Gecko/20100101 Firefox/{m + 2}.0",
        f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{rng.choice((18, 26))}.{rng.randrange(6)} Safari/605.1.15",  # noqa: E501
        f"Mozilla/5.0 (iPhone; CPU iPhone OS {rng.choice(('18_6', '26_0', '26_1'))} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",  # noqa: E501
        f"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{m}.0.0.0 Mobile Safari/537.36",  # noqa: E501
        # Gmail for iOS in-app browser (WKWebView: no Safari token)
        "Mozilla/5.0 (iPhone; CPU iPhone OS 26_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",  # noqa: E501
        # Outlook for Android in-app WebView: full Chrome build legitimately (README.md,
        # `ua.full_build`)
        f"Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/{m}.0.{rng.randrange(6000, 7500)}.{rng.randrange(40, 200)} Mobile Safari/537.36",  # noqa: E501
    ]
    return rng.choice(choices)


LEGACY_AGENTS = (
    # Windows 7/8.1 are capped at Chrome 109 and Firefox ESR 115; reduced form.
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (Windows NT 6.3; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36",  # noqa: E501
)


def scanner_chrome(rng: random.Random, major: int) -> str:
    """Safe Links-style detonation agents: Windows Chrome with a full, often old, build."""
    observed = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36",  # noqa: E501
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/64.0.3282.140 Safari/537.36",  # noqa: E501
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/101.0.4951.54 Safari/537.36",  # noqa: E501
    ]
    recent = f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major - rng.randrange(0, 8)}.0.{rng.randrange(5000, 7500)}.{rng.randrange(30, 200)} Safari/537.36"  # noqa: E501
    return rng.choice([*observed, recent, recent])


PREVIEW_AGENTS = (
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",  # noqa: E501
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.24.20.89 A",
)
LIBRARY_AGENTS = (
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "curl/8.7.1",
    "okhttp/4.12.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.85 Safari/537.36",  # noqa: E501
    "",
)


# Google-owned space outside Google Cloud (goog.json minus cloud.json): Gmail's link checks
# and image proxy come from hosts such as google-proxy-66-102-*.google.com and 66.249.8x.x
# (blog reports; Google documents only that its own fetchers use Google-owned space).
GOOGLE_SERVICE = ["66.102.0.0/20", "66.249.80.0/20", "74.125.0.0/16", "209.85.128.0/17"]
# Small hosters outside the big clouds' published files (ASSUMPTION: Hetzner AS24940, OVH
# AS16276, Akamai/Linode AS63949 blocks; not in any list the detector ships).
UNLISTED_HOSTING = [
    "5.9.0.0/16", "65.108.0.0/16", "135.181.0.0/16", "51.38.0.0/16", "54.36.0.0/16",
    "139.162.0.0/16", "172.105.0.0/16",
]  # fmt: skip


def pool(rng: random.Random, blocks: list[str], size: int) -> list[str]:
    """A service's egress: a few NAT addresses drawn once from its blocks (ASSUMPTION:
    multi-tenant proxies and sandboxes egress from small pools, "one IP across many clicks",
    Insider)."""
    return [from_blocks(rng, blocks) for _ in range(size)]


def spoofed_chrome(rng: random.Random, major: int) -> str:
    """Desktop Chrome agents as scanners spoof them: a string pinned when the tool was
    written (months or years behind), now and then a full build or a Windows 7 platform
    with a Chrome that no longer runs there (Chrome 110+ dropped Windows 7/8.1)."""
    pinned = major - rng.choice((2, 6, 10, 14, 18, 24, 30))
    roll = rng.random()
    if roll < 0.15:
        return (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{pinned}.0.0.0 Safari/537.36"
        )
    if roll < 0.35:
        build = f"{rng.randrange(4000, 7500)}.{rng.randrange(30, 200)}"
        return (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{pinned}.0.{build} Safari/537.36"
        )
    return reduced_chrome(rng, pinned, rng.choice(("win", "win", "mac", "linux")))


def headless_agent(rng: random.Random, major: int) -> str:
    """Headless browsers mostly hide the HeadlessChrome token (puppeteer-extra stealth,
    Playwright's user-agent option); some leave it (isbot's list shows both)."""
    if rng.random() < 0.25:
        return (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"HeadlessChrome/{major - rng.randrange(0, 6)}.0.0.0 Safari/537.36"
        )
    return reduced_chrome(rng, major - rng.randrange(0, 4), rng.choice(("win", "linux")))


# Crawlers that send no agent: most ESPs then report an empty string, some a dash, a few
# omit the field (ASSUMPTION about the split).
EMPTY_AGENTS: tuple[str | None, ...] = ("", "", "", "-", None)
