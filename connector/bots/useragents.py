"""User-agent signals: declared bots, known scanners and previews, and browser impostors.

Self-declared bots are found by the maintained `crawlerdetect` list; our own small table
(`SCANNER_AGENTS`) names the mail scanners and link unfurlers that matter for email and gives
the reader a precise reason. Gateways that detonate links (Safe Links, Proofpoint, Mimecast)
send ordinary Chrome agents, so two impostor rules look at what real browsers no longer send:
a full Chrome build on desktop (reduced to `NNN.0.0.0` since Chrome 101, fully rolled out by
M110: https://www.chromium.org/updates/ua-reduction/) and a major version far behind the
click date. Results are cached per agent string: real traffic repeats a few thousand agents.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from functools import lru_cache

from crawlerdetect import CrawlerDetect

Hit = tuple[str, str]  # (reason code, human-readable detail)

# (pattern, what it is, source). Matched case-insensitively, first match wins.
SCANNER_AGENTS: tuple[tuple[str, str, str], ...] = (
    (r"Barracuda Sentinel", "Barracuda link protection", "Braze bot-filter list"),
    (r"BingPreview", "Outlook.com/Bing link preview", "phpList issue #415"),
    (r"\bms-office\b|MSOffice|Microsoft Office", "Microsoft Office link check", "blog reports"),
    (r"Google-Safety", "Google abuse/malware link check", "Google special-case crawlers doc"),
    (r"GoogleImageProxy", "Gmail image proxy", "blog reports"),
    (r"SkypeUriPreview", "Microsoft Teams/Skype link preview", "self-declared agent"),
    (r"Slackbot|Slack-ImgProxy", "Slack link unfurl", "Slack robots doc"),
    (r"facebookexternalhit|Facebot", "Facebook link preview", "self-declared agent"),
    (r"LinkedInBot", "LinkedIn link preview", "self-declared agent"),
    (r"Twitterbot", "X/Twitter link preview", "self-declared agent"),
    (r"TelegramBot", "Telegram link preview", "self-declared agent"),
    (r"Discordbot", "Discord link preview", "self-declared agent"),
    (r"WhatsApp", "WhatsApp link preview", "self-declared agent"),
    (r"HeadlessChrome|PhantomJS", "headless browser", "isbot, crawler-user-agents"),
    (
        r"ChatGPT-User|Claude-User|Perplexity-User|MistralAI-User|Google-GeminiNotebook|"
        r"Google-NotebookLM",
        "AI assistant fetching for its user",
        "OpenAI, Anthropic, Perplexity, Mistral and Google docs (user-triggered fetchers)",
    ),
    (
        r"python-requests|python-urllib|aiohttp|httpx|Go-http-client|okhttp|\bcurl/|Wget|"
        r"Java/|Apache-HttpClient|libwww-perl|node-fetch|axios|undici",
        "HTTP library",
        "Braze bot-filter list",
    ),
)
_SCANNER_RE = tuple((re.compile(p, re.IGNORECASE), what) for p, what, _ in SCANNER_AGENTS)

# Plain desktop Chrome, nothing after Safari/537.36 (Edge, Opera, Electron add their own
# token and may legitimately carry full builds; Android WebViews are not desktop).
_PLAIN_DESKTOP_CHROME = re.compile(
    r"^Mozilla/5\.0 \((?P<platform>Windows NT [\d.]+|Macintosh|X11|CrOS)[^)]*\) "
    r"AppleWebKit/537\.36 \(KHTML, like Gecko\) "
    r"Chrome/(?P<major>\d+)\.(?P<rest>\d+\.\d+\.\d+) Safari/537\.36$"
)
_CHROME_MAJOR = re.compile(r"\bChrome/(\d+)\.")
_FIREFOX_MAJOR = re.compile(r"\bFirefox/(\d+)\.")
_WINDOWS_LEGACY = re.compile(r"Windows NT 6\.[0-3]\b")

# Last version an old OS can run: such a browser is stuck, not suspicious, and a later one
# cannot be there at all (`ua.impossible`). Chrome 109 / Firefox ESR 115 end Windows 7-8.1
# (https://support.google.com/chrome/thread/185534985, Mozilla's Firefox ESR 115 notes);
# Chrome 116 ended macOS 10.13/10.14
# (reduced Mac agents always say 10_15_7, so every Mac gets the lower cap).
_LEGACY_CAP = {
    ("chrome", "win-legacy"): 109,
    ("firefox", "win-legacy"): 115,
    ("chrome", "mac"): 116,
}

# What agent-less clients send in the header's place, as ESPs report it.
_PLACEHOLDERS = frozenset(
    {"-", "null", "none", "undefined", "mozilla", "mozilla/5.0", "mozilla/4.0"}
)
_CHROME_100 = datetime(2022, 3, 29).toordinal()
OUTDATED_LAG = 16  # majors behind the estimate (~16 months; wider than Firefox ESR's lag)
_crawlers = CrawlerDetect()
_crawlers_lock = threading.Lock()  # CrawlerDetect keeps the last match on the instance


def expected_major(when: datetime) -> int:
    """An estimate of the current Chrome/Firefox major at `when`, from the date alone.

    Chrome 100 shipped 2022-03-29 and 138 on 2025-06-24: 31 days a release on average (a
    4-week cadence with holiday gaps). Off by one or two at most, far inside OUTDATED_LAG.
    """
    return 100 + (when.toordinal() - _CHROME_100) // 31


def classify(user_agent: str | None, current_major: int) -> tuple[Hit, ...]:
    """The user-agent reasons for one click (empty when the agent looks like a browser)."""
    if user_agent is None:
        return ()
    return _classify(user_agent[:1024], current_major)


@lru_cache(maxsize=8192)
def _classify(user_agent: str, current_major: int) -> tuple[Hit, ...]:
    agent = user_agent.strip()
    if not agent or agent.lower() in _PLACEHOLDERS:
        return (("ua.empty", f"no User-Agent ({agent!r})"),)
    for pattern, what in _SCANNER_RE:
        if pattern.search(agent):
            return (("ua.scanner", f"{what}: {_short(agent)}"),)
    with _crawlers_lock:
        matched = _crawlers.getMatches() if _crawlers.isCrawler(agent) else None
    if matched is not None:
        return (("ua.known_bot", f"crawler list match {matched!r}"),)
    hits: list[Hit] = []
    plain = _PLAIN_DESKTOP_CHROME.match(agent)
    if plain and int(plain["major"]) >= 101 and plain["rest"] != "0.0.0":
        hits.append(("ua.full_build", f"desktop Chrome/{plain['major']}.{plain['rest']}"))
    impossible = _impossible(agent)
    if impossible:
        return (*hits, ("ua.impossible", impossible))
    outdated = _outdated(agent, current_major)
    if outdated:
        hits.append(("ua.outdated", outdated))
    return tuple(hits)


def _impossible(agent: str) -> str | None:
    """A browser version that does not run on the platform the agent names: a string put
    together by a tool, not sent by a browser."""
    if not _WINDOWS_LEGACY.search(agent):
        return None
    for family, pattern in (("chrome", _CHROME_MAJOR), ("firefox", _FIREFOX_MAJOR)):
        found = pattern.search(agent)
        if found:
            cap = _LEGACY_CAP[(family, "win-legacy")]
            major = int(found.group(1))
            if major > cap:
                return f"{family} {major} on Windows 7-8.1 (last version there: {cap})"
            return None
    return None


def _outdated(agent: str, current_major: int) -> str | None:
    if "Mobile" in agent or "Android" in agent or "iPhone" in agent or "iPad" in agent:
        return None  # mobile browsers and app webviews update on their own schedules
    for family, pattern in (("chrome", _CHROME_MAJOR), ("firefox", _FIREFOX_MAJOR)):
        found = pattern.search(agent)
        if not found:
            continue
        major = int(found.group(1))
        cap = _LEGACY_CAP.get((family, _os_class(agent)))
        if cap is not None and major >= cap:
            return None
        if major <= current_major - OUTDATED_LAG:
            return f"{family} {major} when ~{current_major} is current"
        return None
    return None


def _os_class(agent: str) -> str:
    if _WINDOWS_LEGACY.search(agent):
        return "win-legacy"
    return "mac" if "Macintosh" in agent else "other"


def _short(agent: str) -> str:
    return agent if len(agent) <= 80 else agent[:77] + "..."
