"""`connector bots evaluate --report`: figures as given and with user agent and IP removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.bots.evaluate import read_events
from connector.bots.figures import MODES, evaluate_labelled, strip_client
from connector.cli import main
from schemas.events import EmailClicked
from tests.bots.helpers import SCANNER_CHROME, VENDOR, clicked, delivered, detector


def _corpus() -> list[bytes]:
    """A vendor-address check an hour late (caught only by its address), a sweep of three
    links a second after delivery (caught by timing and pace either way), and a person."""
    rows: list[tuple[Any, str, str]] = [
        (delivered(), "", ""),
        (clicked(3600, link=1, ip=VENDOR, agent=SCANNER_CHROME), "bot", "vendor_late"),
        *((clicked(1 + 0.3 * n, link=3 + n), "bot", "timing_scan") for n in range(3)),
        (clicked(5400, link=2), "human", "person"),
    ]
    lines = []
    for event, label, kind in rows:
        data = json.loads(event.model_dump_json())
        if label:
            data.update(label=label, kind=kind)
        lines.append(json.dumps(data).encode())
    return lines


def test_strip_client_removes_agent_and_address_from_every_click() -> None:
    """The stripped replay keeps every event, with neither agent nor IP on any click."""
    replay = read_events(_corpus())
    stripped = strip_client(replay)
    assert [e.id for e in stripped.events] == [e.id for e in replay.events]
    clicks = [e for e in stripped.events if isinstance(e, EmailClicked)]
    assert clicks and all(c.client.ip is None and c.client.user_agent is None for c in clicks)


@pytest.mark.parametrize(
    ("mode", "vendor_late", "timing_scan"),
    [("as_given", 1.0, 1.0), ("no_ua_ip", 0.0, 1.0)],
)
def test_both_modes_are_measured(mode: str, vendor_late: float, timing_scan: float) -> None:
    """Evidence from the address counts only as given; timing counts in both modes."""
    result = evaluate_labelled(_corpus(), detector)
    assert set(result) == set(MODES)
    kinds = result[mode]["per_kind"]
    assert (kinds["vendor_late"]["recall"], kinds["timing_scan"]["recall"]) == (
        vendor_late,
        timing_scan,
    )
    assert kinds["person"]["human_fpr"] == 0.0
    assert result[mode]["settled"]["clicks"] == result[mode]["immediate"]["clicks"] == 5


def test_cli_report_prints_both_modes_and_writes_json(tmp_path: Path) -> None:
    """`--report` prints the table for both modes and writes the figures as JSON."""
    events = tmp_path / "labelled.jsonl"
    events.write_bytes(b"\n".join(_corpus()) + b"\n")
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        main, ["bots", "evaluate", str(events), "--no-cloudip", "--report", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "no_ua_ip" in result.stdout and "vendor_late" in result.stdout
    assert json.loads(out.read_text())["as_given"]["settled"]["clicks"] == 5


def test_cli_report_needs_labels(tmp_path: Path) -> None:
    """A file without labelled clicks cannot be reported on, and the command says so."""
    events = tmp_path / "plain.jsonl"
    events.write_text(delivered().model_dump_json() + "\n")
    result = CliRunner().invoke(main, ["bots", "evaluate", str(events), "--report"])
    assert result.exit_code == 1 and "no labelled click" in result.output
