"""`connector report`: a terminal table or CSV of the report aggregates, without secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.storage.report_records import CountedClick
from connector.storage.sqlite import SqliteStore

H = 1_700_000_000 // 3600 * 3600
CONFIG = """
[storage]
url = "sqlite:///{db}"

[[sources]]
id = "esp"
provider = "customerio"
signing_keys = ["${{NOT_SET_HERE}}"]

[[rules]]
id = "live"
actions = ["log"]

[[actions]]
id = "log"
type = "log"
"""


def _config(tmp_path: Path) -> Path:
    db = tmp_path / "r.db"
    store = SqliteStore(db)
    store.open_sync()
    for n, who in enumerate(["ann@x.io", "bob@x.io", "ann@x.io"]):
        click = CountedClick(f"e{n}", (("campaign", "spring"),), who, H + n, n == 1, final=True)
        store.transaction_sync(lambda tx, click=click: tx.count_clicks([click]))
    store.close_sync()
    path = tmp_path / "connector.toml"
    path.write_text(CONFIG.format(db=db))
    return path


def test_report_prints_totals_timeline_and_contacts(tmp_path: Path) -> None:
    """One campaign: its totals row, its hour, and one row per contact (secrets not needed)."""
    result = CliRunner().invoke(
        main, ["report", "campaign", "spring", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["subject", "key", "clicks", "contacts"]
    assert lines[2].split()[:8] == ["campaign", "spring", "3", "2", "2", "1", "2", "1"]
    assert any(line.split()[:3] == ["ann@x.io", "2", "2"] for line in lines)
    assert any(line.split()[:3] == ["bob@x.io", "1", "0"] for line in lines)


def test_report_lists_subjects_as_csv_and_refuses_unknown_keys(tmp_path: Path) -> None:
    """Without a key: every subject of the kind; `--csv` prints CSV; an unknown key fails."""
    config = str(_config(tmp_path))
    listed = CliRunner().invoke(main, ["report", "campaign", "--csv", "--config", config])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[1].startswith("campaign,spring,3,2,")
    missing = CliRunner().invoke(main, ["report", "message", "nope", "--config", config])
    assert missing.exit_code == 1
    assert "no clicks for message 'nope'" in missing.output


@pytest.mark.parametrize(
    ("recipient", "shown"),
    [
        ("x\x1b[2J\x1b[31m@evil.io", "x\\x1b[2J\\x1b[31m@evil.io"),
        ("line\nbreak@x.io", "line\\nbreak@x.io"),
        ("abc\u202egpj.exe@x.io", "abc\\u202egpj.exe@x.io"),
    ],
)
def test_control_characters_from_outside_are_shown_not_obeyed(
    tmp_path: Path, recipient: str, shown: str
) -> None:
    """A recipient holding escapes or a bidi override prints them as text, on one row."""
    path = _config(tmp_path)
    store = SqliteStore(tmp_path / "r.db")
    store.open_sync()
    click = CountedClick("evil", (("campaign", "spring"),), recipient, H, False, final=True)
    store.transaction_sync(lambda tx: tx.count_clicks([click]))
    store.close_sync()
    result = CliRunner().invoke(main, ["report", "campaign", "spring", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert any(line.startswith(shown + " ") for line in result.output.splitlines())
    assert not any(ch in result.output for ch in "\x1b\u202e")


def test_a_link_is_found_by_the_url_as_it_was_sent(tmp_path: Path) -> None:
    """`connector report link URL` with the URL as sent (utm_*, case) shows its link."""
    path = _config(tmp_path)
    store = SqliteStore(tmp_path / "r.db")
    store.open_sync()
    click = CountedClick("l1", (("link", "https://shop.example/sale"),), "c@x.io", H, False)
    store.transaction_sync(lambda tx: tx.count_clicks([click]))
    store.close_sync()
    sent = "HTTPS://Shop.Example/sale?utm_source=mail"
    result = CliRunner().invoke(main, ["report", "link", sent, "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2].split()[:3] == ["link", "https://shop.example/sale", "1"]


@pytest.mark.parametrize(
    ("key", "limit", "cut"),
    [(["spring"], "1", True), (["spring"], "2", False), ([], "1", True), ([], "2", False)],
)
def test_a_cut_list_says_so_on_stderr(
    tmp_path: Path, key: list[str], limit: str, cut: bool
) -> None:
    """When --limit stops the contacts (or subjects), stderr says so; stdout has only CSV."""
    path = _config(tmp_path)  # campaign spring: ann and bob
    store = SqliteStore(tmp_path / "r.db")
    store.open_sync()
    other = CountedClick("o1", (("campaign", "autumn"),), "cy@x.io", H, False, final=True)
    store.transaction_sync(lambda tx: tx.count_clicks([other]))
    store.close_sync()
    args = ["report", "campaign", *key, "--csv", "--limit", limit]
    result = CliRunner().invoke(main, [*args, "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert ("--limit for more" in result.stderr) is cut
    assert "--limit" not in result.stdout
