"""The public schema: JSON Schema output, sample events, stable ids."""

from __future__ import annotations

import json

import httpx
from click.testing import CliRunner

from connector.cli import main
from schemas import EVENT_MODELS, composite_key, event_id
from tests.support.fixtures import FIXTURES


def test_sample_events_validate_against_their_models() -> None:
    """Every file in fixtures/events is a valid event of the type its name says."""
    samples = sorted((FIXTURES / "events").glob("*.json"))
    assert {path.stem for path in samples} == set(EVENT_MODELS)
    for path in samples:
        data = json.loads(path.read_text())
        assert EVENT_MODELS[path.stem].model_validate(data).type == path.stem


def test_schema_command_prints_json_schema() -> None:
    """`connector schema email.clicked` prints a JSON Schema naming the required fields."""
    result = CliRunner().invoke(main, ["schema", "email.clicked"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert {"id", "occurred_at", "received_at", "link", "provider"} <= set(schema["required"])
    assert "bot" in schema["properties"]


def test_event_ids_are_stable_and_distinct() -> None:
    """Same inputs give the same id; different providers or ids give different ids."""
    assert event_id("customerio", "x") == event_id("customerio", "x")
    assert event_id("customerio", "x") != event_id("sendgrid", "x")
    assert composite_key("m", "r", "u", 1) == composite_key("m", "r", "u", "1")
    assert composite_key("m", "r", "u", 1) != composite_key("m", "r", "u", 2)
    assert httpx.URL("https://x/" + event_id("a", "b")).path.endswith(event_id("a", "b"))
