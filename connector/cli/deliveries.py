"""`connector deliveries list|replay`: inspect the outbox and re-queue dead letters.

Works against the same database as a running service (SQLite WAL allows it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.cli.progress import progress
from connector.storage.base import Tx
from connector.storage.factory import open_store

T = TypeVar("T")


def _with_store(config_path: Path | None, fn: Callable[[Tx], T]) -> T:
    settings = load_or_exit(resolve_config_path(config_path), secrets=False)
    store = open_store(settings)
    store.open_sync()
    try:
        return store.transaction_sync(fn)
    finally:
        store.close_sync()


@click.group()
def deliveries() -> None:
    """Inspect and replay deliveries (the outbox and its dead letters)."""


@deliveries.command("list")
@config_option
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
def list_command(config_path: Path | None, status: str | None, limit: int) -> None:
    """List deliveries, newest first."""
    rows = _with_store(config_path, lambda tx: tx.list_deliveries(status, limit))
    if not rows:
        click.echo("no deliveries")
    for row in rows:
        when = datetime.fromtimestamp(row.updated_at, UTC).isoformat(timespec="seconds")
        error = f" error={row.last_error!r}" if row.last_error else ""
        click.echo(
            f"{row.id} {row.status:9} action={row.action_id} event={row.event_id} "
            f"attempts={row.attempts} last_status={row.last_status} updated={when}{error}"
        )


@deliveries.command("replay")
@config_option
@click.argument("delivery_ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Replay every dead-lettered delivery.")
def replay_command(config_path: Path | None, delivery_ids: tuple[str, ...], all_dead: bool) -> None:
    """Queue DELIVERY_IDS (or --all-dead) for delivery again, with a fresh retry budget."""
    if bool(delivery_ids) == all_dead:
        raise click.UsageError("give delivery ids or --all-dead (not both)")
    now = time.time()
    if all_dead:
        count = _replay_all_dead(config_path, now)
    else:
        count = _with_store(config_path, lambda tx: tx.replay(list(delivery_ids), now))
    click.echo(f"queued {count} deliver{'y' if count == 1 else 'ies'} for replay")
    unknown = len(set(delivery_ids)) - count
    if unknown > 0:  # a mistyped id must not read as success
        raise click.ClickException(
            f"{unknown} of the ids given name{'s' if unknown == 1 else ''} no delivery, or one"
            " already pending (see `connector deliveries list`)"
        )


REPLAY_BATCH = 500


def _replay_all_dead(config_path: Path | None, now: float) -> int:
    """Every dead letter, a batch per transaction (a long replay never holds the write lock
    for long), with a progress bar on a terminal."""
    settings = load_or_exit(resolve_config_path(config_path), secrets=False)
    store = open_store(settings)
    store.open_sync()
    count = 0
    try:
        total = store.transaction_sync(lambda tx: tx.counts()).get("dead", 0)
        with progress(total, "replaying") as advance:
            while True:
                batch = store.transaction_sync(
                    lambda tx: tx.replay(
                        [row.id for row in tx.list_deliveries("dead", REPLAY_BATCH)], now
                    )
                )
                if not batch:
                    return count
                count += batch
                advance(batch)
    finally:
        store.close_sync()
