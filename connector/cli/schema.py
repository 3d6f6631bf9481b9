"""`connector schema TYPE`: print the JSON Schema of a public event type."""

from __future__ import annotations

import json

import click

from schemas import EVENT_MODELS


@click.command()
@click.argument("event_type", type=click.Choice(sorted(EVENT_MODELS)))
def schema(event_type: str) -> None:
    """Print the JSON Schema of EVENT_TYPE (e.g. email.clicked)."""
    click.echo(json.dumps(EVENT_MODELS[event_type].model_json_schema(), indent=2))
