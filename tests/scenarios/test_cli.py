"""`connector rules test` and `check-config` on scenario rules, from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.support.fixtures import FIXTURES

CONFIG = """
[[rules]]
id = "confirm"
trigger = "wait"
timeout = "24h"
links = ["https://shop.example.org/spring"]
on_click = ["log"]
on_timeout = ["log"]

[[rules]]
id = "no-click-followup"
trigger = "not_clicked"
after = "48h"
actions = ["log"]

[[actions]]
id = "log"
type = "log"
"""


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("email.clicked", ["confirm: fires only while a wait for this recipient and message"]),
        (
            "email.delivered",
            [
                "confirm: this delivered event starts a wait for a click, due 1d after it",
                "no-click-followup: this delivered event starts a did-not-click check, due 2d",
            ],
        ),
        ("email.not_clicked", ["would deliver to log (rule no-click-followup)"]),
    ],
)
def test_rules_test_shows_scenario_decisions(
    tmp_path: Path, sample: str, expected: list[str]
) -> None:
    """A click shows the wait it would answer; a delivery what it starts; a check's event
    the rule that produced it."""
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    event = FIXTURES / "events" / f"{sample}.json"
    result = CliRunner().invoke(main, ["rules", "test", "--config", str(config), str(event)])
    assert result.exit_code == 0, result.output
    for line in expected:
        assert line in result.output


def test_check_config_rejects_a_check_in_the_past(tmp_path: Path) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[rules]]\nid = "late"\ntrigger = "clicked_by"\nat = "{past}"\nactions = ["log"]\n'
        '[[actions]]\nid = "log"\ntype = "log"\n'
    )
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 2
    assert "rules[0] (late).at:" in result.output
    assert "is in the past" in result.output


@pytest.mark.parametrize("secret", [None, "a-trigger-link-secret-0123"])
def test_check_config_warns_of_a_contact_link_without_a_secret(
    tmp_path: Path, secret: str | None
) -> None:
    """A {contact} destination with no [trigger_links] secret is valid but never filled:
    check-config passes and says so; with the secret it says nothing."""
    config = tmp_path / "c.toml"
    section = f'[trigger_links]\nsecret = "{secret}"\n' if secret else ""
    config.write_text(
        section + '[[links]]\nslug = "spring"\ndestination = "https://shop.example/?u={contact}"\n'
        '[[links]]\nslug = "plain"\ndestination = "https://shop.example/plain"\n'
    )
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 0, result.output
    warned = "warning: links[0] (spring).destination: {contact} is never filled" in result.output
    assert warned is (secret is None)
    assert "(plain)" not in result.output
