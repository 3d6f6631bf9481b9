"""Trigger links as storage keeps them: a slug, a destination template, named values that
can be edited later, and whether the link is live. Config `[[links]]` are written here at
start-up; the admin API edits them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TriggerLink:
    slug: str
    name: str
    destination: str  # may hold {placeholders}
    values: dict[str, str] = field(default_factory=dict)  # named values the template uses
    enabled: bool = True
    fallback_url: str | None = None  # where a disabled link sends people (else 410)
    origin: str = "api"  # config | api
    config_digest: str = ""  # digest of the config entry last written (config links only)
    created_at: float = 0.0
    updated_at: float = 0.0


class LinkOps(Protocol):
    """Trigger-link operations every backend's transaction offers (part of `Tx`)."""

    def save_link(self, link: TriggerLink) -> None:
        """Insert or replace the link with this slug."""
        ...

    def link(self, slug: str) -> TriggerLink | None: ...
    def links(self, limit: int = 1000, after: str = "") -> list[TriggerLink]:
        """Links by slug, the first `limit` after `after` (a page's last slug)."""
        ...
