"""`connector bots update-ranges --fetch`: published files downloaded (mocked with respx,
never the network), validated like hand-saved ones, and every installed file dated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import respx
from click.testing import CliRunner, Result

from connector.bots.ipranges import DATA_DIR
from connector.bots.rangefetch import KNOWN_URLS
from connector.bots.rangefiles import FORMAT, read_normalised
from connector.cli import main

AWS = {
    "syncToken": "1",
    "createDate": "2026-11-20-00-00-00",
    "prefixes": [{"ip_prefix": "198.18.0.0/24", "region": "x", "service": "EC2"}],
    "ipv6_prefixes": [],
}
CRAWLERS = {"creationTime": "2026-11-02T00:00:00", "prefixes": [{"ipv4Prefix": "198.18.1.0/27"}]}
M365 = [{"id": 9, "serviceArea": "Exchange", "ips": ["198.18.2.0/24"]}]
RIPESTAT = {  # the announced-prefixes data call's shape (stat.ripe.net data API)
    "data_call_name": "announced-prefixes",
    "status": "ok",
    "data": {
        "resource": "24940",
        "prefixes": [{"prefix": "198.18.3.0/24", "timelines": []}],
        "query_endtime": "2026-12-01T08:00:00",
    },
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["bots", "update-ranges", *args])


@pytest.mark.parametrize(
    ("name", "body", "source", "date"),
    [
        ("aws", AWS, "aws", "2026-11-20"),
        ("google-special-crawlers", CRAWLERS, "google-special-crawlers", "2026-11-02"),
        ("microsoft365", M365, "microsoft365", None),  # undated list: dated when fetched
        ("openai-chatgpt-user", CRAWLERS, "openai-chatgpt-user", "2026-11-02"),
        ("perplexity-user", CRAWLERS, "perplexity-user", "2026-11-02"),
        (
            "google-user-triggered-fetchers-google",
            CRAWLERS,
            "google-user-triggered-fetchers-google",
            "2026-11-02",
        ),
        ("google-user-triggered-agents", CRAWLERS, "google-user-triggered-agents", "2026-11-02"),
        ("hosting-hetzner", RIPESTAT, "hosting-hetzner", "2026-12-01"),  # replaces the shipped
    ],
)
@respx.mock
def test_fetch_installs_a_published_file(
    tmp_path: Path, name: str, body: object, source: str, date: str | None
) -> None:
    """A fetched file is installed under its source id, with its URL and a date."""
    route = respx.get(url__regex=re.escape(KNOWN_URLS[name].split("?")[0]) + ".*").mock(
        return_value=httpx.Response(200, json=body)
    )
    result = _run("--fetch", name, "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert route.called
    installed = read_normalised(tmp_path / f"{source}.json")
    assert installed.origin.startswith(KNOWN_URLS[name].split("?")[0])
    assert installed.date == (date or installed.origin.rsplit(" ", 1)[-1])


@respx.mock
def test_failed_download_installs_nothing(tmp_path: Path) -> None:
    """A download that fails writes nothing, not even the files that did arrive."""
    respx.get(KNOWN_URLS["aws"]).mock(return_value=httpx.Response(200, json=AWS))
    respx.get(KNOWN_URLS["gcp"]).mock(return_value=httpx.Response(503))
    target = tmp_path / "ranges"
    result = _run("--fetch", "aws", "--fetch", "gcp", "--dir", str(target))
    assert result.exit_code == 1
    assert "gcp: cannot fetch" in result.output
    assert not target.exists()


def test_files_or_fetch_are_required(tmp_path: Path) -> None:
    """Without files and without --fetch the command says what it needs."""
    result = _run("--dir", str(tmp_path))
    assert result.exit_code == 2 and "--fetch" in result.output


def test_hand_saved_vendor_list_is_dated_on_install(tmp_path: Path) -> None:
    """A CIDR list has no date of its own: the install date stands for it."""
    listing = tmp_path / "cisco.txt"
    listing.write_text("198.19.0.0/24\n")
    result = _run(str(listing), "--vendor", "cisco", "--dir", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    installed = read_normalised(tmp_path / "r" / "vendor-cisco.json")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", installed.date)
    assert installed.origin == "cisco.txt"


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_file_says_where_and_when(path: Path) -> None:
    """Each shipped range file names its source, its date and where it came from, and
    SOURCES.md lists it."""
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"])
    assert len(data["origin"]) > 10
    assert f"`{path.name}`" in (DATA_DIR / "SOURCES.md").read_text()
