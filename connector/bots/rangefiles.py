"""Read the official published IP-range files and our own normalised range format.

Official formats understood (the user downloads them; we never fetch):
- AWS `ip-ranges.json`: `syncToken`, `createDate`, `prefixes[].ip_prefix`,
  `ipv6_prefixes[].ipv6_prefix` (https://docs.aws.amazon.com/vpc/latest/userguide/aws-ip-syntax.html)
- Azure `ServiceTags_Public_*.json`: `changeNumber`, `values[].name`,
  `values[].properties.addressPrefixes` (https://www.microsoft.com/download/details.aspx?id=56519)
- Google `goog.json` (Google-owned, with `syncToken`) and `cloud.json` (`prefixes[].scope`):
  Google services = goog.json minus cloud.json; crawler lists `googlebot.json`,
  `special-crawlers.json`, `user-triggered-fetchers*.json` have `creationTime` only
  (https://developers.google.com/search/docs/crawling-indexing/verifying-googlebot)
- Microsoft 365 endpoints web service: a JSON list of `{id, serviceArea, ips, ...}`
  (https://learn.microsoft.com/microsoft-365/enterprise/microsoft-365-ip-web-service)
- RIPEstat's announced prefixes of an AS (`data_call_name` "announced-prefixes",
  `data.resource`, `data.prefixes[].prefix`; https://stat.ripe.net/docs/data-api/api-endpoints/announced-prefixes):
  hosters that publish no range file (Hetzner, OVH, Linode: `HOSTING_ASNS`), category `cloud`
- Vendor tables (Mimecast, Barracuda, Proofpoint publish HTML): save as plain text, one
  CIDR per line (`#` comments), and name the vendor.
Our normalised format (`FORMAT`) is what the data snapshot and `ip_ranges_dir` hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connector.bots.ipindex import CATEGORIES, parse_cidr
from connector.errors import MalformedPayload

FORMAT = "click-connector/ip-ranges/1"
Range = tuple[str, str, str]  # (cidr, category, detail)

# Azure service tags that are Microsoft's own mail/security services, not customer VMs.
AZURE_VENDOR_TAGS = ("EOPEXTERNALPUBLISHEDIPS", "MICROSOFTDEFENDERFORENDPOINT")


@dataclass(frozen=True)
class RangeSource:
    source: str  # replaces any earlier source of the same id (user files beat the snapshot)
    provider: str
    date: str
    origin: str
    ranges: tuple[Range, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "source": self.source,
            "provider": self.provider,
            "date": self.date,
            "origin": self.origin,
            "ranges": [list(item) for item in self.ranges],
        }


def azure_category(tag: str) -> str:
    return "vendor" if tag.upper().startswith(AZURE_VENDOR_TAGS) else "cloud"


def parse_official(
    path: Path, *, vendor: str | None = None, category: str = "vendor"
) -> RangeSource:
    """Recognise and normalise one downloaded file; MalformedPayload says why it is not valid."""
    raw = path.read_bytes()
    if vendor is not None:
        return _cidr_list(raw, vendor, category, path.name)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        message = f"{path.name}: not JSON ({error}); pass --vendor for a CIDR list"
        raise MalformedPayload(message) from None
    source = _parse_json(data, path.name)
    if not source.ranges:
        raise MalformedPayload(f"{path.name}: no address ranges found")
    return source


def _parse_json(data: Any, name: str) -> RangeSource:
    if isinstance(data, list) and data and all(isinstance(i, dict) for i in data):
        return _m365(data, name)
    if not isinstance(data, dict):
        raise MalformedPayload(f"{name}: not a recognised IP-range file")
    if data.get("format") == FORMAT:
        return from_json(data, name)
    if "prefixes" in data and "createDate" in data:
        return _aws(data, name)
    if "values" in data and "changeNumber" in data:
        return _azure(data, name)
    if "prefixes" in data and "creationTime" in data:
        return _google(data, name)
    if data.get("data_call_name") == "announced-prefixes":
        return _announced(data, name)
    raise MalformedPayload(f"{name}: not a recognised IP-range file")


def _aws(data: dict[str, Any], name: str) -> RangeSource:
    ranges: list[Range] = []
    for key, field in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
        for item in _list(data, key, name):
            detail = f"{item.get('service', '')} {item.get('region', '')}".strip()
            ranges.append(_range(item.get(field), "cloud", detail, name))
    date = str(data.get("createDate", ""))[:10]
    return RangeSource(
        "aws", "aws", date, f"{name} syncToken={data.get('syncToken')}", tuple(ranges)
    )


def _azure(data: dict[str, Any], name: str) -> RangeSource:
    ranges: list[Range] = []
    for value in _list(data, "values", name):
        tag = str(value.get("name", ""))
        properties = value.get("properties")
        if not isinstance(properties, dict):
            raise MalformedPayload(f"{name}: service tag {tag!r} has no properties")
        for prefix in properties.get("addressPrefixes") or []:
            ranges.append(_range(prefix, azure_category(tag), tag, name))
    origin = f"{name} cloud={data.get('cloud')} changeNumber={data.get('changeNumber')}"
    return RangeSource("azure", "azure", "", origin, tuple(ranges))


# Fetcher lists other publishers give in Google's format (`creationTime`, `prefixes`), by
# file name: (source id, provider, detail). OpenAI: https://platform.openai.com/docs/bots;
# Perplexity: https://docs.perplexity.ai/guides/bots. Their user-triggered agents fetch what
# a person asked their assistant about (a link in a mail, too): no people behind them.
FETCHER_LISTS: dict[str, tuple[str, str, str]] = {
    "chatgpt-user": ("openai-chatgpt-user", "openai", "OpenAI ChatGPT-User"),
    "searchbot": ("openai-searchbot", "openai", "OpenAI OAI-SearchBot"),
    "gptbot": ("openai-gptbot", "openai", "OpenAI GPTBot"),
    "perplexity-user": ("perplexity-user", "perplexity", "Perplexity-User"),
    "perplexitybot": ("perplexitybot", "perplexity", "PerplexityBot"),
}


def _google(data: dict[str, Any], name: str) -> RangeSource:
    prefixes = _list(data, "prefixes", name)
    date = str(data.get("creationTime", ""))[:10]
    stem = Path(name).stem.lower()
    provider = "google"
    if any("scope" in item or "service" in item for item in prefixes):
        source, category, detail = "gcp", "cloud", "Google Cloud"
    elif "syncToken" in data:
        source, category, detail = "google", "service", "Google service (goog.json)"
    elif stem in FETCHER_LISTS:
        source, provider, detail = FETCHER_LISTS[stem]
        category = "crawler"
    else:
        source, category, detail = f"google-{stem}", "crawler", f"Google {stem}"
    ranges = []
    for item in prefixes:
        scope = item.get("scope")
        label = f"{detail} {scope}" if scope else detail
        ranges.append(
            _range(item.get("ipv4Prefix") or item.get("ipv6Prefix"), category, label, name)
        )
    return RangeSource(source, provider, date, name, tuple(ranges))


# Hosters whose space is rentable servers (weak evidence, like the clouds': VPN exits and
# people's own servers live there too) and that publish no range file of their own; their
# announced prefixes come from RIPEstat. AS number -> (source id, provider, name).
HOSTING_ASNS: dict[str, tuple[str, str, str]] = {
    "24940": ("hosting-hetzner", "hetzner", "Hetzner Online"),
    "16276": ("hosting-ovh", "ovh", "OVH"),
    "63949": ("hosting-linode", "linode", "Linode (Akamai)"),
}


def _announced(data: dict[str, Any], name: str) -> RangeSource:
    body = data.get("data")
    if not isinstance(body, dict):
        raise MalformedPayload(f"{name}: announced-prefixes without 'data'")
    asn = str(body.get("resource", "")).upper().removeprefix("AS")
    source, provider, label = HOSTING_ASNS.get(asn, (f"asn-{asn}", f"as{asn}", "hosting"))
    detail = f"{label} AS{asn} hosting"
    ranges = tuple(
        _range(i.get("prefix"), "cloud", detail, name) for i in _list(body, "prefixes", name)
    )
    date = str(body.get("query_endtime") or data.get("time") or "")[:10]
    return RangeSource(
        source, provider, date, f"{name} RIPEstat announced-prefixes AS{asn}", ranges
    )


def _m365(data: list[dict[str, Any]], name: str) -> RangeSource:
    if not all("serviceArea" in item for item in data):
        raise MalformedPayload(f"{name}: not a Microsoft 365 endpoints list (no serviceArea)")
    ranges: list[Range] = []
    for item in data:
        area = str(item.get("serviceAreaDisplayName") or item.get("serviceArea") or "")
        for prefix in item.get("ips") or []:
            ranges.append(_range(prefix, "vendor", f"Microsoft 365 {area}".strip(), name))
    return RangeSource("microsoft365", "microsoft", "", name, tuple(ranges))


def _cidr_list(raw: bytes, vendor: str, category: str, name: str) -> RangeSource:
    if category not in CATEGORIES:
        raise MalformedPayload(f"category must be one of {', '.join(sorted(CATEGORIES))}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayload(f"{name}: not UTF-8 text") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    ranges = tuple(_range(line, category, vendor, name) for line in lines if line)
    if not ranges:
        raise MalformedPayload(f"{name}: no address ranges found")
    return RangeSource(f"vendor-{vendor.lower()}", vendor.lower(), "", name, ranges)


def from_json(data: Any, name: str) -> RangeSource:
    """Validate our normalised format."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise MalformedPayload(f"{name}: not a {FORMAT} file")
    ranges = []
    for item in _list(data, "ranges", name):
        if not (isinstance(item, list) and len(item) == 3 and item[1] in CATEGORIES):
            raise MalformedPayload(f"{name}: bad range entry {item!r:.80}")
        ranges.append(_range(item[0], item[1], str(item[2]), name))
    fields = [str(data.get(key) or "") for key in ("source", "provider", "date", "origin")]
    if not fields[0]:
        raise MalformedPayload(f"{name}: missing source")
    return RangeSource(fields[0], fields[1], fields[2], fields[3], tuple(ranges))


def read_normalised(path: Path) -> RangeSource:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise MalformedPayload(f"{path.name}: cannot read ({error})") from None
    return from_json(data, path.name)


def _list(data: dict[str, Any], key: str, name: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise MalformedPayload(f"{name}: '{key}' must be a list")
    return [item for item in value if isinstance(item, dict)] if key != "ranges" else value


def _range(cidr: Any, category: str, detail: str, name: str) -> Range:
    if not isinstance(cidr, str) or parse_cidr(cidr) is None:
        raise MalformedPayload(f"{name}: {cidr!r:.60} is not a CIDR block")
    return cidr.strip(), category, detail
