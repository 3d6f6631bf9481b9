"""Bodies of the admin API's trigger-link routes (`/links`), and their OpenAPI paths.

A new link is validated exactly as a `[[links]]` entry (`TriggerLinkSettings`); an edit is
merged into the stored link and the result validated the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from connector.admin.models import Problem
from connector.links.settings import TriggerLinkSettings
from connector.links.template import base_problem
from connector.links.urls import MAX_CONTACT_BYTES, contact_problem, query_problems

MAX_CONTACTS = 1000  # URLs per request: a batch of an SMS send is signed in one call


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
    next_after: str | None = None  # the next page: `?after=<next_after>`; None on the last


def _checked(check: Callable[[str], str | None]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return validate


Contact = Annotated[
    str,
    AfterValidator(_checked(contact_problem)),
    Field(
        description=f"A contact id (opaque: it can be read from the URL), 1-{MAX_CONTACT_BYTES}"
        " bytes."
    ),
]


class UrlsRequest(BaseModel):
    """Whom to make tracked URLs for: `contact` (one) or `contacts` (a batch)."""

    model_config = ConfigDict(extra="forbid")

    contact: Contact | None = None
    contacts: list[Contact] | None = Field(None, min_length=1, max_length=MAX_CONTACTS)
    query: dict[str, str] = Field(
        default_factory=dict,
        description="Query values added to every URL (they fill `{query.NAME}`).",
    )
    base_url: str | None = Field(
        None, description="Public URL of the service; default `[trigger_links] base_url`."
    )

    @model_validator(mode="after")
    def _whole(self) -> UrlsRequest:
        problems = query_problems(self.query)
        if (self.contact is None) == (self.contacts is None):
            problems.append("give exactly one of contact and contacts")
        if self.base_url is not None and (problem := base_problem(self.base_url)):
            problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def people(self) -> list[str]:
        return [self.contact] if self.contact is not None else list(self.contacts or [])


class ContactUrl(BaseModel):
    contact: str
    url: str


class LinkUrls(BaseModel):
    slug: str
    enabled: bool = Field(description="A disabled link's URLs answer 410 or its fallback.")
    urls: list[ContactUrl] = Field(description="In the order the contacts were given.")


LINK_MODELS: list[type[BaseModel]] = [
    TriggerLinkSettings,
    LinkEdit,
    LinkOut,
    LinkList,
    UrlsRequest,
    LinkUrls,
]
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
    ("get", "/links", "List trigger links by slug", None, {200: LinkList}, ["limit", "after"]),
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
    (
        "post",
        "/links/{slug}/urls",
        "Make contacts' tracked URLs (signed tokens), as `connector links url` does",
        UrlsRequest,
        {200: LinkUrls, 404: Problem, 409: Problem, 422: Problem},
        [],
    ),
]
