"""Download the range files that have a stable public URL, for `connector bots update-ranges
--fetch`. Run on a connected machine (the service never fetches at request time); files
without a stable URL (Azure's weekly file, vendors' HTML tables) are downloaded by hand and
passed as files. Every download is then validated by `rangefiles.parse_official`, exactly
like a file the user saved.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from connector.errors import MalformedPayload

_RIPESTAT = "https://stat.ripe.net/data/announced-prefixes/data.json?resource="
# name -> URL, each documented by its publisher (see connector/bots/data/SOURCES.md).
KNOWN_URLS: dict[str, str] = {
    "aws": "https://ip-ranges.amazonaws.com/ip-ranges.json",
    "google": "https://www.gstatic.com/ipranges/goog.json",
    "gcp": "https://www.gstatic.com/ipranges/cloud.json",
    "google-special-crawlers": (
        "https://developers.google.com/static/search/apis/ipranges/special-crawlers.json"
    ),
    "google-googlebot": "https://developers.google.com/static/search/apis/ipranges/googlebot.json",
    "google-user-triggered-fetchers": (
        "https://developers.google.com/static/search/apis/ipranges/user-triggered-fetchers.json"
    ),
    # Google-owned fetchers acting for a user (google-proxy hosts) and Google's browsing
    # agents (Google's user-triggered fetchers doc, which moved the lists to /crawling/)
    "google-user-triggered-fetchers-google": (
        "https://developers.google.com/static/crawling/ipranges/user-triggered-fetchers-google.json"
    ),
    "google-user-triggered-agents": (
        "https://developers.google.com/static/crawling/ipranges/user-triggered-agents.json"
    ),
    "microsoft365": "https://endpoints.office.com/endpoints/worldwide?clientrequestid={guid}",
    # AI assistants' user-triggered fetchers (rangefiles.FETCHER_LISTS)
    "openai-chatgpt-user": "https://openai.com/chatgpt-user.json",
    "perplexity-user": "https://www.perplexity.com/perplexity-user.json",
    # Hosters without a range file of their own: their announced prefixes (RIPEstat;
    # rangefiles.HOSTING_ASNS)
    "hosting-hetzner": f"{_RIPESTAT}AS24940",
    "hosting-ovh": f"{_RIPESTAT}AS16276",
    "hosting-linode": f"{_RIPESTAT}AS63949",
}
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def fetch(
    names: list[str], directory: Path, client: httpx.Client | None = None
) -> list[tuple[str, Path]]:
    """Download each named file into `directory` under its published file name (which
    `parse_official` reads the source id from); (URL, path) pairs. Raises MalformedPayload
    naming the first unknown name or failed download."""
    unknown = sorted(set(names) - set(KNOWN_URLS))
    if unknown:
        known = ", ".join(sorted(KNOWN_URLS))
        raise MalformedPayload(f"no known URL for {', '.join(unknown)}; known: {known}")
    own = client is None
    client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    try:
        return [_download(client, name, directory) for name in names]
    finally:
        if own:
            client.close()


def _download(client: httpx.Client, name: str, directory: Path) -> tuple[str, Path]:
    url = KNOWN_URLS[name].format(guid=uuid.uuid4())
    public = url.split("?")[0]
    try:
        response = client.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise MalformedPayload(f"{name}: cannot fetch {public} ({error})") from None
    base = public.rsplit("/", 1)[-1]
    # a published file name, unless the query names the data (RIPEstat's data.json)
    path = directory / (base if base.endswith(".json") and public == url else f"{name}.json")
    path.write_bytes(response.content)
    return public, path
