"""Read-only views of an event: what code that only reads events may rely on.

Both the pydantic models (`schemas/events.py`) and their compiled twins
(`schemas/compiled.py`) satisfy these, so the bot detector can score the twin decoded from
storage (msgspec, ~2 µs) instead of a model validated again (~10 µs a pass, twice a click).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class RecipientView(Protocol):
    @property
    def email(self) -> str | None: ...
    @property
    def id(self) -> str | None: ...


class MessageView(Protocol):
    @property
    def id(self) -> str | None: ...
    @property
    def campaign_id(self) -> str | None: ...
    @property
    def link_count(self) -> int | None: ...


class LinkView(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def id(self) -> str | None: ...
    @property
    def position(self) -> int | None: ...
    @property
    def hidden(self) -> bool | None: ...


class ClientView(Protocol):
    @property
    def user_agent(self) -> str | None: ...
    @property
    def ip(self) -> str | None: ...
    @property
    def http_method(self) -> str | None: ...


class EventView(Protocol):
    """Any event: a delivery or a click."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def recipient(self) -> RecipientView: ...
    @property
    def message(self) -> MessageView: ...
    @property
    def metadata(self) -> dict[str, Any]: ...


class ClickView(EventView, Protocol):
    @property
    def link(self) -> LinkView: ...
    @property
    def client(self) -> ClientView: ...
