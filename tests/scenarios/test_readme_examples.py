"""Every config example in the README's Scenarios section loads as it is written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from connector.config import parse_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _examples() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Scenarios") : text.index("## Admin API")]
    blocks = re.findall(r"```toml\n(.*?)```", section, re.S)
    return [block for block in blocks if "[[rules]]" in block]


@pytest.mark.parametrize("example", _examples())
def test_readme_scenario_example_loads(example: str) -> None:
    """A no-code builder can paste it (with their own actions) and it validates."""
    data = tomllib.loads(example)
    actions = {
        a
        for rule in data["rules"]
        for key in ("actions", "on_click", "on_timeout")
        for a in rule.get(key, [])
    }
    data["actions"] = [{"id": action, "type": "log"} for action in sorted(actions)]
    settings = parse_settings(data, env={})
    assert [rule.id for rule in settings.rules] == [rule["id"] for rule in data["rules"]]


def test_the_section_has_an_example_per_scenario() -> None:
    triggers = [tomllib.loads(e)["rules"][0].get("trigger", "click") for e in _examples()]
    assert {"click", "clicked_by", "not_clicked", "wait"} <= set(triggers)
    assert any("group" in e for e in _examples()) and any("once_per" in e for e in _examples())
