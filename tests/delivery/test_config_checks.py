"""What `check-config` says about actions: refused literal destinations and body paths that
name no schema field, each naming the action, through the real settings loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import parse_settings
from connector.errors import ConfigError
from connector.settings import Settings

STORAGE = {"storage": {"url": "sqlite:///unused.db"}}


def load(actions: list[dict[str, Any]], **sections: Any) -> Settings:
    return parse_settings({**STORAGE, **sections, "actions": actions}, env={})


def problems(actions: list[dict[str, Any]], **sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(actions, **sections)
    return caught.value.problems


def http(url: str, **fields: Any) -> dict[str, Any]:
    return {"id": "crm", "type": "http", "url": url, **fields}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:6379/", "127.0.0.1 is loopback"),
        ("http://[::1]/", "::1 is loopback"),
        ("http://localhost:8080/", "127.0.0.1 is loopback (this host); ::1 is loopback"),
        ("http://2130706433/", "127.0.0.1 is loopback"),
        ("http://10.1.2.3/", "10.1.2.3 is private (RFC 1918)"),
        ("http://100.64.1.1/", "100.64.1.1 is shared (CGNAT)"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is cloud metadata"),
        ("http://[fe80::1]/", "fe80::1 is link-local"),
        ("http://[fd00::1]/", "fd00::1 is unique-local"),
        ("http://0.0.0.0/", "0.0.0.0 is unspecified"),
        ("http://[::ffff:192.168.0.1]/", "is private (RFC 1918; it embeds 192.168.0.1)"),
    ],
)
def test_literal_internal_destinations_fail_naming_the_action(url: str, reason: str) -> None:
    """A literal internal address (or localhost) in an action URL is a config error that names
    the action's key and id and the address class."""
    [problem] = problems([{"id": "other", "type": "log"}, http(url)])
    assert problem.startswith("actions[1].http: action 'crm': url host ")
    assert reason in problem
    assert "allow_networks" in problem


@pytest.mark.parametrize(
    ("url", "sections", "action_allow"),
    [
        ("http://127.0.0.1:9/", {"delivery": {"allow_networks": ["127.0.0.0/8"]}}, []),
        ("http://127.0.0.1:9/", {}, ["127.0.0.0/8"]),
        ("http://localhost/", {"delivery": {"allow_networks": ["127.0.0.0/8"]}}, ["::1/128"]),
        ("http://10.9.8.7/", {}, ["10.0.0.0/8"]),
        ("http://169.254.169.254/", {}, ["169.254.169.254/32"]),
        ("https://93.184.216.34/", {}, []),
        ("https://internal.corp.example/", {}, []),  # names are checked when resolved
    ],
)
def test_allowed_or_public_destinations_load(
    url: str, sections: dict[str, Any], action_allow: list[str]
) -> None:
    """`allow_networks` in [delivery] or in the action opens literal destinations."""
    settings = load([http(url, allow_networks=action_allow)], **sections)
    assert settings.actions[0].url == url


def test_a_range_never_opens_a_metadata_address() -> None:
    """Allowing 169.254.0.0/16 still refuses 169.254.169.254: it needs its own entry."""
    [problem] = problems([http("http://169.254.169.254/", allow_networks=["169.254.0.0/16"])])
    assert "exactly this address (/32 or /128)" in problem


@pytest.mark.parametrize("bad", ["127.0.0.1/8", "not-a-network", "10.0.0.0/33"])
def test_malformed_networks_are_rejected(bad: str) -> None:
    """allow_networks entries must be networks (no host bits set), in either section."""
    assert problems([], delivery={"allow_networks": [bad]}) == [
        "delivery.allow_networks[0]: value is not a valid IPv4 or IPv6 network"
    ]
    [problem] = problems([http("https://x.example/", allow_networks=[bad])])
    assert problem.startswith("actions[0].http.allow_networks[0]")


@pytest.mark.parametrize("kind", ["http", "log"])
def test_unknown_body_paths_fail_naming_action_and_key(kind: str) -> None:
    """A template path that names no schema field fails with the action, output key and a
    suggestion, instead of sending null at run time."""
    action = {
        "id": "zap",
        "type": kind,
        "body": {"who": "recipient.emial", "x": {"h": "link.hots"}},
    }
    if kind == "http":
        action["url"] = "https://hooks.zapier.com/x"
    [problem] = problems([action])
    assert problem.startswith(f"actions[0].{kind}: action 'zap': ")
    assert "body.who: unknown field 'recipient.emial'" in problem
    assert "(did you mean 'recipient.email'?)" in problem
    assert "body.x.h: unknown field 'link.hots'" in problem


@pytest.mark.parametrize(
    "path",
    [
        "recipient.email",
        "link.query.utm_source",
        "link.fragment",
        "bot.reasons.0.code",
        "metadata.anything.below",
        "scenario.due_at",  # email.not_clicked and friends
        "scenario.send.campaign_id",
        "occurred_at",
    ],
)
def test_paths_of_any_public_event_type_are_accepted(path: str) -> None:
    """Paths valid for any public event type load (actions receive several types)."""
    settings = load([{"id": "l", "type": "log", "body": {"v": path}}])
    assert settings.actions[0].body != "event"


def test_check_config_prints_the_refused_action(tmp_path: Path) -> None:
    """`connector check-config` exits 2 and names the refused action."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "c.db"}"\n\n'
        '[[actions]]\nid = "redis"\ntype = "http"\nurl = "http://127.0.0.1:6379/"\n'
    )
    result = CliRunner().invoke(main, ["check-config", str(config)])
    assert result.exit_code == 2
    assert "action 'redis': url host '127.0.0.1' is refused: 127.0.0.1 is loopback" in result.output
