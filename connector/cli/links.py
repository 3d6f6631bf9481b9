"""`connector links url|list`: make a contact's tracked URL, list the trigger links.

`url` prints `<base>/t/<slug>?c=<token>`, the token signed with `[trigger_links] secret`
(`connector/links/urls.py`, the code `POST /api/v1/links/{slug}/urls` uses too); the base
is `--base-url`, else `[trigger_links] base_url`; `--query NAME=VALUE` adds values for
`{query.NAME}`. The slug must be a `[[links]]` entry or a link in the store (made through
the admin API).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.links.config import sync_config_links
from connector.links.template import base_problem
from connector.links.urls import contact_problem, contact_url, query_problems
from connector.settings import Settings
from connector.storage.base import Tx
from connector.storage.factory import open_store
from connector.storage.link_records import TriggerLink

T = TypeVar("T")


@click.group()
def links() -> None:
    """Trigger links: tracked URLs that redirect and record a link.clicked event."""


@links.command("url")
@config_option
@click.argument("slug")
@click.option("--contact", required=True, help="The contact id the click will be recorded for.")
@click.option("--base-url", default=None, help="Public URL of the service (else the config's).")
@click.option(
    "--query",
    "query_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="A query value for {query.NAME} (repeatable).",
)
def url_command(
    config_path: Path | None,
    slug: str,
    contact: str,
    base_url: str | None,
    query_values: tuple[str, ...],
) -> None:
    """Print SLUG's tracked URL for one contact, with its signed token."""
    query = dict(value.partition("=")[::2] for value in query_values)
    problems = query_problems(query) + [f"--contact: {p}" for p in [contact_problem(contact)] if p]
    problems += [f"--query: {v!r} is not NAME=VALUE" for v in query_values if "=" not in v]
    problems += [f"--base-url: {p}" for p in [base_url and base_problem(base_url)] if p]
    if problems:
        raise click.UsageError("; ".join(problems))
    settings = load_or_exit(resolve_config_path(config_path))
    key = settings.trigger_links.key()
    if key is None:
        raise click.UsageError("set [trigger_links] secret: tokens are signed with it")
    base = base_url or settings.trigger_links.base_url
    if not base:
        raise click.UsageError("give --base-url or set [trigger_links] base_url")
    if not any(entry.slug == slug for entry in settings.links) and _stored(settings, slug) is None:
        raise click.UsageError(f"no link {slug!r} in the config or the store")
    click.echo(contact_url(base, slug, key, contact, query))


@links.command("list")
@config_option
def list_command(config_path: Path | None) -> None:
    """List the trigger links (the config's `[[links]]` are written first, as at start-up)."""
    settings = load_or_exit(resolve_config_path(config_path), secrets=False)

    def read(tx: Tx) -> list[TriggerLink]:
        sync_config_links(tx, settings.links, time.time())
        found: list[TriggerLink] = []
        while page := tx.links(after=found[-1].slug if found else ""):
            found += page
        return found

    found = _with_store(settings, read)
    if not found:
        click.echo("no links")
    for link in found:
        state = "enabled" if link.enabled else "disabled"
        click.echo(f"{link.slug} {state} origin={link.origin} {link.name!r} -> {link.destination}")


def _stored(settings: Settings, slug: str) -> TriggerLink | None:
    return _with_store(settings, lambda tx: tx.link(slug))


def _with_store(settings: Settings, fn: Callable[[Tx], T]) -> T:
    store = open_store(settings)
    store.open_sync()
    try:
        return store.transaction_sync(fn)
    finally:
        store.close_sync()
