"""Writing `[[links]]` to the store at start-up.

A config entry is written when its slug is new or when the entry changed since it was last
written (its digest differs): an API edit of a config link lasts until the config file
changes that entry. Links missing from the config are left alone (the API may own them).
"""

from __future__ import annotations

from dataclasses import replace

from connector.links.settings import TriggerLinkSettings
from connector.storage.base import Tx


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
