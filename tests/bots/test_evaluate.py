"""The replay used by `connector bots evaluate`, memory vs SQLite state, and the CLI."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.bots.evaluate import output_rows, read_events, run
from connector.cli import main
from connector.errors import MalformedPayload
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState
from tests.bots.helpers import CLOUD, SCANNER_CHROME, VENDOR, clicked, delivered, detector


def _story() -> list[dict[str, Any]]:
    """A delivered message, a gateway scan, a person with a gateway check, a late preview."""
    labelled: list[tuple[Any, str]] = [
        *((clicked(4 + 0.3 * n, link=n, ip=VENDOR, agent=SCANNER_CHROME), "bot") for n in range(3)),
        (clicked(1797, link=1, ip=CLOUD), "bot"),  # check just before the person
        (clicked(1800, link=1), "human"),
        (clicked(90000, link=2, agent="Slackbot-LinkExpanding 1.0"), "bot"),
    ]
    rows = [json.loads(delivered(link_count=3).model_dump_json())]
    for event, label in labelled:
        rows.append({**json.loads(event.model_dump_json()), "label": label, "kind": "test"})
    return rows


def _lines(rows: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(row) for row in rows]


def test_replay_labels_and_verdicts() -> None:
    """Labels are set aside, every click gets a settled verdict in input order."""
    rows = _story()
    replay = run(read_events(_lines(rows)), detector())
    out = output_rows(replay)
    assert [row["id"] for row in out] == [row["id"] for row in rows[1:]]
    assert all(set(row) == {"id", "suspected", "score", "band", "reasons"} for row in out)
    truth = [row["label"] == "bot" for row in rows[1:]]
    assert [row["suspected"] for row in out] == truth


def test_reader_defaults_and_skips() -> None:
    """Unknown types are skipped, repeated ids kept once, missing received_at defaulted."""
    rows = _story()
    del rows[1]["received_at"]
    lines = [*_lines(rows), _lines(rows)[2], json.dumps({"type": "email.opened"}), ""]
    replay = read_events(lines)
    assert replay.skipped == 1
    assert len(replay.events) == len(rows)
    assert replay.events[1].received_at == replay.events[1].occurred_at


def _bare(row: dict[str, Any]) -> dict[str, Any]:
    """The event as another tool might export it: what the detector reads, our envelope
    fields left out, extra keys of its own at every level, and a stale verdict."""
    keep = ("type", "id", "occurred_at", "received_at", "message", "recipient", "link", "client")
    out = {key: row[key] for key in keep if key in row}
    out["truth"] = {"is_bot": row.get("label") == "bot"}
    out["bot"] = {"suspected": True, "score": 100}
    if "client" in out:
        out["client"] = {**out["client"], "asn": 8075}
    if "link" in out:
        out["link"] = {**out["link"], "tracking": "t"}
    return out


def test_foreign_corpora_need_only_what_the_detector_reads() -> None:
    """Missing envelope fields, unknown keys and an input verdict change nothing: the same
    verdicts as the full events, and the set-aside keys are listed."""
    rows = _story()
    full = output_rows(run(read_events(_lines(rows)), detector()))
    foreign = read_events(_lines([_bare(row) for row in rows]))
    assert output_rows(run(foreign, detector())) == full
    assert foreign.ignored == {"truth", "client.asn", "link.tracking"}
    no_id = {key: value for key, value in _bare(rows[1]).items() if key != "id"}
    assert read_events([json.dumps(no_id)]).events[0].id == "line-1"


def test_foreign_corpora_may_use_numeric_ids_and_other_time_formats() -> None:
    """Numbers where we keep text are read as text; epoch and space-separated times parse."""
    lines = [
        json.dumps({"type": "email.delivered", "id": "d", "occurred_at": "2026-01-05 10:00:00",
                    "message": {"id": 123}}),
        json.dumps({"type": "email.clicked", "id": 7, "occurred_at": 1767607203,
                    "message": {"id": 123, "campaign_id": 42}, "recipient": {"id": 99},
                    "link": {"url": "https://x.example/a", "id": 5}}),
    ]  # fmt: skip
    replay = read_events(lines)
    click = replay.events[1]
    assert (click.id, click.message.id, click.message.campaign_id) == ("7", "123", "42")
    assert (click.recipient.id, click.link.id) == ("99", "5")
    out = output_rows(run(replay, detector()))
    assert [reason["code"] for reason in out[0]["reasons"]] == ["timing.under_10s"]


@pytest.mark.parametrize(
    "line",
    ["{not json", "[1, 2]", json.dumps({"type": "email.clicked", "id": "x"})],
)
def test_reader_rejects_bad_lines(line: str) -> None:
    """A bad line raises our MalformedPayload naming the line."""
    with pytest.raises(MalformedPayload, match="line 2"):
        read_events([_lines(_story())[0], line])


def test_memory_and_sqlite_state_give_identical_verdicts(tmp_path: Path) -> None:
    """The same replay through MemoryState and a real SQLite file gives the same verdicts."""
    lines = _lines(_story())
    memory = run(read_events(lines), detector())
    conn = sqlite3.connect(tmp_path / "bots.db")
    conn.executescript(SQLITE_SCHEMA)
    on_disk = run(read_events(lines), detector(), SqliteState(conn))
    conn.commit()
    conn.close()
    assert memory.settled == on_disk.settled
    assert memory.immediate == on_disk.immediate


def test_cli_evaluate_writes_one_line_per_click(tmp_path: Path) -> None:
    """`connector bots evaluate` prints one settled verdict per click, gzip accepted."""
    rows = _story()
    plain = tmp_path / "events.jsonl"
    plain.write_text("\n".join(_lines(rows)) + "\n")
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    runner = CliRunner()
    outputs = []
    for path in (plain, packed):
        result = runner.invoke(main, ["bots", "evaluate", str(path), "--no-cloudip"])
        assert result.exit_code == 0, result.output
        outputs.append([json.loads(line) for line in result.stdout.splitlines()])
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == len(rows) - 1
    assert {row["band"] for row in outputs[0]} <= {
        "human",
        "unlikely",
        "possible",
        "likely",
        "certain",
    }
    assert "clicks" in result.stderr


def test_cli_evaluate_reports_bad_input(tmp_path: Path) -> None:
    """A malformed line makes the command fail with the line number, not a traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_text("{broken\n")
    result = CliRunner().invoke(main, ["bots", "evaluate", str(path), "--no-cloudip"])
    assert result.exit_code == 1
    assert "line 1" in result.output


def test_cli_evaluate_skips_bad_lines_and_says_so(tmp_path: Path) -> None:
    """Bad lines among good ones are skipped and named on stderr; `--strict` fails on them."""
    rows = _story()
    lines = _lines(rows)
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([lines[0], "{broken", lines[1], '{"type": "email.clicked"}']))
    runner = CliRunner()
    lenient = runner.invoke(main, ["bots", "evaluate", str(path), "--no-cloudip"])
    assert lenient.exit_code == 0, lenient.output
    assert [json.loads(line)["id"] for line in lenient.stdout.splitlines()] == [rows[1]["id"]]
    assert "skipped 2 invalid lines: line 2: not JSON" in lenient.stderr
    assert "line 4: occurred_at" in lenient.stderr
    strict = runner.invoke(main, ["bots", "evaluate", str(path), "--no-cloudip", "--strict"])
    assert strict.exit_code == 1 and "line 2" in strict.output
    replay = read_events([*lines[:2], "[]"], strict=False)
    assert len(replay.events) == 2 and replay.invalid == ["line 3: not a JSON object"]


def test_either_time_stands_for_the_other() -> None:
    """A line with only `received_at` (or only `occurred_at`) gets the other from it."""
    row = {key: value for key, value in _story()[1].items() if key != "occurred_at"}
    event = read_events([json.dumps(row)]).events[0]
    assert event.occurred_at == event.received_at


def test_cli_update_ranges_and_lookup(tmp_path: Path) -> None:
    """update-ranges installs a valid file (and refuses a bad batch); lookup then sees it."""
    aws = tmp_path / "ip-ranges.json"
    aws.write_text(json.dumps({
        "syncToken": "1", "createDate": "2026-11-20-00-00-00",
        "prefixes": [{"ip_prefix": "198.18.0.0/24", "region": "x", "service": "EC2"}],
        "ipv6_prefixes": [],
    }))  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    target = tmp_path / "ranges"
    runner = CliRunner()
    refused = runner.invoke(
        main, ["bots", "update-ranges", str(aws), str(bad), "--dir", str(target)]
    )
    assert refused.exit_code == 1 and not target.exists()
    done = runner.invoke(main, ["bots", "update-ranges", str(aws), "--dir", str(target)])
    assert done.exit_code == 0, done.output
    assert (target / "aws.json").exists()
    looked = runner.invoke(main, ["bots", "lookup", "198.18.0.7", "--ip-ranges-dir", str(target)])
    assert "cloud aws EC2 x" in looked.output


def test_cli_update_ranges_vendor_list(tmp_path: Path) -> None:
    """A vendor's CIDR list is installed under its name."""
    listing = tmp_path / "cisco.txt"
    listing.write_text("198.19.0.0/24\n")
    result = CliRunner().invoke(
        main,
        ["bots", "update-ranges", str(listing), "--vendor", "cisco", "--dir", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "vendor-cisco.json").exists()
