"""For every provider, `connector send-sample` posts its signed click to a running service and
an `email.clicked` event arrives at a real downstream server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_settings
from providers.registry import PROVIDERS
from tests.support.fixtures import FIXTURES, manifest, provider_folders
from tests.support.servers import downstream, service_in_thread

pytestmark = pytest.mark.e2e
PROVIDER_NAMES = [name for name in provider_folders() if name in PROVIDERS]


def toml_value(value: Any) -> str:
    """TOML for the simple values manifests hold (JSON strings and arrays are valid TOML)."""
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


def write_config(folder: Path, provider: str, downstream_url: str) -> tuple[Path, str]:
    source = {k: v for k, v in manifest(provider)["source"].items() if k != "allowed_ips"}
    lines = [f"{key} = {toml_value(value)}" for key, value in source.items()]
    path = folder / "connector.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "c.db"}"\n\n[[sources]]\n'
        + "\n".join(lines)
        + f'\n\n[[rules]]\nid = "all"\nactions = ["down"]\n\n'
        f'[[actions]]\nid = "down"\ntype = "http"\nurl = "{downstream_url}"\n'
        'allow_networks = ["127.0.0.0/8"]\n'
    )
    return path, str(source["id"])


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_send_sample_click_arrives_downstream(tmp_path: Path, provider: str) -> None:
    """The provider's click fixture, sent with send-sample, is delivered as email.clicked."""
    with downstream() as app:
        config, source_id = write_config(tmp_path, provider, app.url)
        settings = load_settings(config)
        with service_in_thread(settings) as base:
            result = CliRunner().invoke(
                main,
                [
                    "send-sample",
                    "--config",
                    str(config),
                    "--url",
                    base,
                    "--source",
                    source_id,
                    str(FIXTURES / provider / "click.raw"),
                ],
            )
            assert result.exit_code == 0, result.output
            received = app.wait_for(1)
    assert len(received) == 1
    event = received[0].json()
    assert event["type"] == "email.clicked"
    assert event["provider"] == provider
    assert event["link"]["url"].startswith("http")
