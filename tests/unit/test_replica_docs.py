"""The replica example in docs/replicas holds together: its compose file parses and wires
PostgreSQL, the web replicas and a worker, and its config validates."""

from __future__ import annotations

from pathlib import Path

import yaml

from connector.config import load_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "replicas"


def test_compose_example_has_postgres_web_replicas_and_a_worker() -> None:
    compose = yaml.safe_load((DOCS / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "web", "worker"}
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["worker"]["command"][0] == "worker"
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_example_config_validates() -> None:
    env = {"CONNECTOR_DB_PASSWORD": "pw", "CIO_SIGNING_KEY": "key"}
    settings = load_settings(DOCS / "connector.toml", env)
    assert settings.storage.backend == "postgresql"
    assert settings.worker.mode == "external"
    assert "pw" not in settings.storage.redacted_url
