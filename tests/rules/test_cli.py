"""`connector rules test`: prints the decision for one event, validates input, sends nothing."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigError
from tests.rules.support import click_event, rule
from tests.support.config import write_config


@pytest.fixture
def fake_settings(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the config loader with two rules and two actions; record the paths asked for."""
    asked: list[Path] = []
    settings = SimpleNamespace(
        rules=[
            rule(
                "pricing", when={"field": "link.path", "starts_with": "/pricing"}, actions=["crm"]
            ),
            rule("settled", actions=["crm", "slack"], wait_for_settled=True),
            rule("blog", when={"field": "link.path", "starts_with": "/blog"}, actions=["slack"]),
        ],
        actions=[SimpleNamespace(id="crm"), SimpleNamespace(id="slack")],
    )

    def load(path: Path, **_: Any) -> Any:
        asked.append(path)
        return settings

    monkeypatch.setattr("connector.cli.rules.load_settings", load)
    return asked


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, ["rules", "test", *args], input=stdin)


def write_event(folder: Path, event: Any) -> str:
    path = folder / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def test_prints_decision_and_summary(tmp_path: Path, fake_settings: list[Path]) -> None:
    """The decision is printed as JSON, then one line saying where it would go."""
    result = run("--config", "c.toml", write_event(tmp_path, click_event()))
    assert result.exit_code == 0, result.output
    body, summary = result.output.rsplit("}\n", 1)
    decision = json.loads(body + "}")
    assert [m["rule"] for m in decision["matched"]] == ["pricing", "settled"]
    assert decision["unmatched"] == [
        {"rule": "blog", "reason": "link.path starts_with '/blog' was '/pricing/plans'"}
    ]
    assert summary.strip() == (
        "2 of 3 rule(s) matched; would deliver to crm (rules pricing, settled); "
        "slack (rule settled) after the settled bot verdict (nothing was sent)."
    )
    assert fake_settings == [Path("c.toml")]


def test_reads_the_event_from_stdin(fake_settings: list[Path]) -> None:
    """'-' reads the event from standard input."""
    event = click_event(**{"link.url": "https://shop.example.org/about"})
    result = run("--config", "c.toml", "-", stdin=json.dumps(event))
    assert result.exit_code == 0
    assert result.output.strip().endswith(
        "1 of 3 rule(s) matched; would deliver to crm (rule settled) after the settled bot "
        "verdict; slack (rule settled) after the settled bot verdict (nothing was sent)."
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"type": "email.opened"}', "'type' must be one of email.click_timeout, email.clicked"),
        ('{"type": "email.clicked", "id": "x"}', "not a valid email.clicked event"),
    ],
)
def test_invalid_event_exits_2(
    tmp_path: Path, fake_settings: list[Path], content: str, words: str
) -> None:
    """A broken or schema-invalid event is reported and the command exits with status 2."""
    path = tmp_path / "event.json"
    path.write_text(content)
    result = run("--config", "c.toml", str(path))
    assert result.exit_code == 2
    assert words in result.output


def test_schema_errors_name_the_field(tmp_path: Path, fake_settings: list[Path]) -> None:
    """Schema problems list each offending field path."""
    event = click_event()
    del event["link"]["url"]
    result = run("--config", "c.toml", write_event(tmp_path, event))
    assert result.exit_code == 2
    assert "link.url: Field required" in result.output


def test_config_errors_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config problems are listed one per line, exit status 2."""

    def broken(path: Path, **_: Any) -> Any:
        raise ConfigError(["rules[0].when.eqq: rule 'x': unknown key 'eqq'"])

    monkeypatch.setattr("connector.cli.rules.load_settings", broken)
    result = run("--config", "c.toml", write_event(tmp_path, click_event()))
    assert result.exit_code == 2
    assert "configuration is not valid" in result.output
    assert "  - rules[0].when.eqq: rule 'x': unknown key 'eqq'" in result.output


def test_no_match_says_nothing_would_be_sent(tmp_path: Path, fake_settings: list[Path]) -> None:
    """A test send matches nothing here and the summary says so."""
    result = run("--config", "c.toml", write_event(tmp_path, click_event(test=True)))
    assert result.exit_code == 0
    assert result.output.strip().endswith(
        "0 of 3 rule(s) matched; nothing would be delivered (nothing was sent)."
    )


def test_with_a_real_config_file(tmp_path: Path) -> None:
    """With the real loader, the test config's catch-all rule routes a click downstream."""
    config = write_config(tmp_path, "http://127.0.0.1:9/hook")
    result = run("--config", str(config), write_event(tmp_path, click_event()))
    assert result.exit_code == 0, result.output
    assert "would deliver to downstream (rule all-clicks)" in result.output
