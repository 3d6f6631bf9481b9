"""`connector rules test --config FILE EVENT.json`: show how the rules route one event.

Nothing is sent and nothing is stored: it loads the config, validates the event against the
public schema, and prints the decision the service would store (as JSON) and a one-line
summary, so a rule can be tried before it goes live.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import click
from pydantic import ValidationError

from connector.config import load_settings
from connector.errors import ConfigError
from connector.rules.decision import Decision
from connector.rules.engine import RuleSet
from connector.scenarios.explain import scenario_notes
from schemas import EVENT_MODELS

EXIT_INVALID = 2


@click.group()
def rules() -> None:
    """Try the routing rules of a config."""


@rules.command("test", short_help="Show how the rules route one event; send nothing.")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file whose rules to use.",
)
@click.argument("event_file", metavar="EVENT.json", type=click.File("rb"))
def test(config_path: Path, event_file: BinaryIO) -> None:
    """Route the event in EVENT.json ('-' for stdin) through the rules; send nothing."""
    try:
        settings = load_settings(config_path, secrets=False)
    except ConfigError as error:
        _fail(f"{config_path}: configuration is not valid:", error.problems)
    event = _read_event(event_file)
    decision = RuleSet.from_settings(settings.rules).decide(event)
    click.echo(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False))
    click.echo(summary(decision))
    for note in scenario_notes(settings.rules, event, decision):
        click.echo(f"  scenario: {note}")


def _read_event(source: BinaryIO) -> dict[str, Any]:
    """The event as the service sees it (`model_dump(mode="json")`), or exit 2 saying why."""
    name = getattr(source, "name", "event")
    try:
        data = json.loads(source.read())
    except (ValueError, UnicodeDecodeError) as error:
        _fail(f"{name}: not valid JSON: {error}")
    if not isinstance(data, dict):
        _fail(f"{name}: expected a JSON object (one event), got {type(data).__name__}")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in EVENT_MODELS:
        _fail(f"{name}: 'type' must be one of {', '.join(sorted(EVENT_MODELS))}, got {kind!r}")
    try:
        model = EVENT_MODELS[kind].model_validate(data)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in problem['loc']) or 'event'}: {problem['msg']}"
            for problem in error.errors()
        ]
        _fail(f"{name}: not a valid {kind} event:", problems)
    return model.model_dump(mode="json")


def summary(decision: Decision) -> str:
    """One line for a person: what would be delivered where, and because of which rules."""
    total = len(decision.matched) + len(decision.unmatched)
    head = f"{len(decision.matched)} of {total} rule(s) matched"
    targets = decision.actions()
    if not targets:
        return f"{head}; nothing would be delivered (nothing was sent)."
    settled = {m["rule"] for m in decision.matched if m["wait_for_settled"]}
    parts = []
    for target in targets:
        named = decision.rules_for(target.action)
        label = "rule" if len(named) == 1 else "rules"
        later = " after the settled bot verdict" if target.rule in settled else ""
        parts.append(f"{target.action} ({label} {', '.join(named)}){later}")
    return f"{head}; would deliver to {'; '.join(parts)} (nothing was sent)."


def _fail(message: str, problems: list[str] | None = None) -> NoReturn:
    click.echo(message, err=True)
    for problem in problems or []:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(EXIT_INVALID)
