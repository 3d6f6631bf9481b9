"""Bodies of the admin API's trigger-link routes (`/links`), and their OpenAPI paths.

A new link is validated exactly as a `[[links]]` entry (`TriggerLinkSettings`); an edit is
merged into the stored link and the result validated the same way.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from connector.admin.models import Problem
from connector.links.settings import TriggerLinkSettings


class LinkEdit(BaseModel):
    """Fields to change; those left out keep their value (`fallback_url: null` removes it)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    destination: str | None = None
    values: dict[str, str] | None = Field(None, description="Replaces the named values whole.")
    fallback_url: str | None = None
    enabled: bool | None = None


class LinkOut(BaseModel):
    slug: str
    name: str
    destination: str
    values: dict[str, str]
    enabled: bool
    fallback_url: str | None
    origin: str = Field(description="config: from [[links]] (an edit lasts until it changes).")
    created_at: datetime
    updated_at: datetime


class LinkList(BaseModel):
    links: list[LinkOut]


LINK_MODELS: list[type[BaseModel]] = [TriggerLinkSettings, LinkEdit, LinkOut, LinkList]
_ONE: dict[int, type[BaseModel]] = {200: LinkOut, 404: Problem}
LINK_PATHS: list[
    tuple[str, str, str, type[BaseModel] | None, dict[int, type[BaseModel]], list[str]]
] = [
    (
        "post",
        "/links",
        "Create a trigger link",
        TriggerLinkSettings,
        {201: LinkOut, 409: Problem, 422: Problem},
        [],
    ),
    ("get", "/links", "List trigger links", None, {200: LinkList}, ["limit"]),
    ("get", "/links/{slug}", "Read a trigger link", None, _ONE, []),
    (
        "patch",
        "/links/{slug}",
        "Edit a link's destination, name, values, fallback or state",
        LinkEdit,
        {**_ONE, 422: Problem},
        [],
    ),
    ("post", "/links/{slug}/enable", "Turn a link on", None, _ONE, []),
    ("post", "/links/{slug}/disable", "Turn a link off (410 or its fallback)", None, _ONE, []),
]
