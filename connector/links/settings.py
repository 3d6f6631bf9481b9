"""`[[links]]` and `[trigger_links]` in the config file.

```toml
[trigger_links]
secret = "${LINK_SECRET}"              # signs contact tokens (?c=...)
base_url = "https://go.example.com"    # before /t/<slug>: http(s), no query or fragment

[[links]]
slug = "spring"
name = "Spring picks (SMS)"
destination = "https://shop.example.com/spring?who={contact}&v={values.variant}"
values = { variant = "b" }
fallback_url = "https://shop.example.com/"   # where a disabled link sends people (else 410)
```
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connector.links.template import (
    PLACEHOLDER,
    base_problem,
    slug_problem,
    template_problems,
    url_problem,
)
from connector.storage.link_records import TriggerLink

# Far past any real link, and small enough that every click's event (which copies the name)
# and the cached link stay small: a 100 KB name was accepted and copied into each click.
MAX_NAME = 200
MAX_URL = 4000
MAX_VALUES = 100
MAX_VALUE = 2000
ValueName = Annotated[str, Field(max_length=64)]
Value = Annotated[str, Field(max_length=MAX_VALUE)]


class TriggerLinkSettings(BaseModel):
    """One `[[links]]` entry: written to the store at start-up (origin "config")."""

    model_config = ConfigDict(extra="forbid")

    slug: str = Field(description="The link's path: /t/<slug>.")
    name: str = Field(
        "", max_length=MAX_NAME, description="A name people recognise; defaults to the slug."
    )
    destination: str = Field(
        max_length=MAX_URL,
        description="http(s) URL; may use {contact}, {query.NAME}, {values.NAME} after the host.",
    )
    values: dict[ValueName, Value] = Field(
        default_factory=dict,
        max_length=MAX_VALUES,
        description="Named values {values.NAME} fills in.",
    )
    enabled: bool = Field(True, description="A disabled link answers 410 or `fallback_url`.")
    fallback_url: str | None = Field(
        None, max_length=MAX_URL, description="Where a disabled link redirects."
    )

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        problem = slug_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _template(self) -> TriggerLinkSettings:
        problems = template_problems(self.destination, self.values)
        if self.fallback_url is not None:
            problems += [p for p in [fallback_problem(self.fallback_url)] if p]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def digest(self) -> str:
        """Changes when the entry changes: an API edit lasts until the config changes."""
        return hashlib.sha256(
            orjson.dumps(self.model_dump(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()[:32]

    def to_link(self, now: float) -> TriggerLink:
        return TriggerLink(
            slug=self.slug,
            name=self.name or self.slug,
            destination=self.destination,
            values=dict(self.values),
            enabled=self.enabled,
            fallback_url=self.fallback_url,
            origin="config",
            config_digest=self.digest(),
            created_at=now,
            updated_at=now,
        )


def fallback_problem(url: str) -> str | None:
    """Why `url` cannot be a fallback page: nothing fills placeholders there (a disabled link
    knows no click to fill them from), so `{contact}` would reach the shop as `%7Bcontact%7D`."""
    if PLACEHOLDER.search(url):
        return "fallback_url: placeholders are not filled here; use a plain URL"
    return url_problem("fallback_url", url)


class TriggerLinksSettings(BaseModel):
    """`[trigger_links]`: what all trigger links share."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr | None = Field(
        None,
        description="HMAC key of contact tokens (16+ characters); without it every click"
        " is anonymous and `connector links url` refuses.",
    )
    base_url: str | None = Field(
        None, description="Public URL of this service, for `connector links url`."
    )
    cache_seconds: float = Field(
        2.0, ge=0, le=60, description="How long a process keeps a looked-up link in memory."
    )

    @field_validator("base_url")
    @classmethod
    def _usable_base(cls, value: str | None) -> str | None:
        problem = value is not None and base_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the trigger-link secret must be at least 16 characters")
        return value

    def key(self) -> bytes | None:
        return None if self.secret is None else self.secret.get_secret_value().encode()
