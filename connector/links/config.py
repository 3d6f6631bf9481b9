"""Writing `[[links]]` to the store at start-up.

A config entry is written when its slug is new or when the entry changed since it was last
written (its digest differs): an API edit of a config link lasts until the config file
changes that entry. Links missing from the config are left alone (the API may own them).
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from connector.links.settings import TriggerLinkSettings
from connector.storage.base import Store, Tx

log = structlog.get_logger("connector.links")


def sync_config_links(tx: Tx, entries: list[TriggerLinkSettings], now: float) -> list[str]:
    """Write new or changed config links; the slugs written."""
    written: list[str] = []
    for entry in entries:
        current = tx.link(entry.slug)
        link = entry.to_link(now)
        if current is not None:
            if current.config_digest == link.config_digest:
                continue
            link = replace(link, created_at=current.created_at)
        tx.save_link(link)
        written.append(entry.slug)
    return written


async def write_config_links(store: Store, entries: list[TriggerLinkSettings], now: float) -> None:
    """At start-up: a store that fails now must not stop webhooks being served (they answer
    503 themselves), so the failure is logged and the links already stored keep working."""
    if not entries:
        return
    try:
        written = await store.transaction(lambda tx: sync_config_links(tx, entries, now))
    except Exception as error:
        log.error("links.config_not_written", error=type(error).__name__, links=len(entries))
    else:
        log.info("links.config_written", written=written, links=len(entries))
