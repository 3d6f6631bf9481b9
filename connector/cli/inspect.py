"""`connector inspect --config FILE REQUEST.json`: what the service would do with one request.

REQUEST.json is a capture (`server.capture_rejected_dir` writes them, secrets redacted) or a
hand-written `{"source", "method", "path", "headers", "body", "received_at"}`. The steps are
connector/inspection.py's; this module only prints them. Exit status: 0 when the service
would accept the request, 1 when it would refuse it, 2 when the config or capture is unusable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.errors import ConfigError, ConnectorError
from connector.inspection import inspect_capture, load_capture

EXIT_REFUSED = 1
EXIT_INVALID = 2


@click.command("inspect")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable document.")
@click.argument("capture_file", metavar="REQUEST.json", type=click.File("rb"))
def inspect(config_path: Path | None, as_json: bool, capture_file: BinaryIO) -> None:
    """Replay a captured request step by step; nothing is stored or sent."""
    settings = load_or_exit(resolve_config_path(config_path))
    name = getattr(capture_file, "name", "capture")
    try:
        capture = load_capture(json.loads(capture_file.read()))
        report = inspect_capture(settings, capture)
    except (ValueError, UnicodeDecodeError) as error:
        _fail(f"{name}: not a JSON capture: {error}")
    except ConfigError as error:
        _fail(f"{name}: cannot be inspected:", error.problems)
    except ConnectorError as error:
        _fail(f"{name}: cannot be inspected: {error.message}")
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else render(report))
    raise SystemExit(0 if report["outcome"]["accepted"] else EXIT_REFUSED)


def render(report: dict[str, Any]) -> str:
    """The report for a person: one numbered section per step the service takes."""
    request, outcome = report["request"], report["outcome"]
    lines = [
        f"Request: {request['method']} {request['url']} ({request['body_bytes']} bytes) "
        f"from {request['client_ip'] or 'unknown address'}, judged at {request['received_at']}",
        *(f"Note: {note}" for note in report["notes"]),
        "",
        _source_line(report),
    ]
    if report["verification"] is not None:
        lines += _verification_lines(report["verification"], outcome)
    if report["normalisation"] is not None:
        lines += _normalisation_lines(report["normalisation"])
    if report["routing"] is not None:
        lines += _routing_lines(report["routing"])
    verdict = "ACCEPT" if outcome["accepted"] else "REFUSE"
    lines += ["", f"Outcome: the service would {verdict}: {outcome['status']} {outcome['message']}"]
    return "\n".join(lines)


def _source_line(report: dict[str, Any]) -> str:
    source = report["source"]
    if source is None:
        return f"1. Source: not reached ({report['outcome']['message']})"
    return f"1. Source: {source['id']} (provider {source['provider']}, {source['title']})"


def _verification_lines(step: dict[str, Any], outcome: dict[str, Any]) -> list[str]:
    if step["ok"]:
        lines = [f"2. Verification: OK, verified by {step['credential']}"]
    else:
        status = f"{outcome['status']} ({outcome['reason']})"
        lines = [f"2. Verification: FAILED: {step['error']}; the service would answer {status}"]
    return lines + [f"   - {hint}" for hint in step["hints"]]


def _normalisation_lines(step: dict[str, Any]) -> list[str]:
    if not step["ok"]:
        return [f"3. Normalisation: FAILED: {step['error']}"]
    events, ignored, rejected = step["events"], step["ignored"], step["rejected"]
    lines = [
        f"3. Normalisation: {len(events)} event(s), {len(ignored)} ignored, "
        f"{len(rejected)} rejected"
    ]
    for event in events:  # the bot verdict is not the provider's: it is shown under routing
        shown = {key: value for key, value in event.items() if key != "bot"}
        lines += ["   " + line for line in json.dumps(shown, indent=2).splitlines()]
    lines += [f"   ignored: {kind} (acknowledged, not an error)" for kind in ignored]
    lines += [f"   rejected item {item['index']}: {item['reason']}" for item in rejected]
    return lines


def _routing_lines(step: dict[str, Any]) -> list[str]:
    lines = [f"4. Routing ({len(step['rules'])} rule(s), bot detection {step['bots']}):"]
    lines.append(f"   ({step['note']})")
    for event in step["events"]:
        bot = event["bot"]
        verdict = f", bot {bot['band']} (score {bot['score']})" if bot else ""
        targets = ", ".join(event["deliver_to"]) or "nothing"
        lines.append(f"   {event['id']} {event['type']}{verdict}: would deliver to {targets}")
        for match in event["decision"]["matched"]:
            later = " after the settled verdict" if match["wait_for_settled"] else ""
            lines.append(f"     matched {match['rule']} -> {', '.join(match['actions'])}{later}")
        for miss in event["decision"]["unmatched"]:
            lines.append(f"     not matched {miss['rule']}: {miss['reason']}")
    return lines


def _fail(message: str, problems: list[str] | None = None) -> NoReturn:
    click.echo(message, err=True)
    for problem in problems or []:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(EXIT_INVALID)
