"""The admin API's request and response bodies: pydantic models, the one source of the
OpenAPI document (`openapi.py`) and of each request's validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.rules.scenario_model import id_text, parse_time

# An ESP's ids can run to kilobytes; storage keeps a long one bounded (its start and a
# hash), so a send or a person is found by the id as the ESP gave it.
ID_MAX = 8192


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SendRef(_Body):
    """One message, or a campaign (broadcast, newsletter) with all its messages."""

    message_id: str | None = Field(None, min_length=1, max_length=ID_MAX)
    campaign_id: str | None = Field(None, min_length=1, max_length=ID_MAX)

    _ids = field_validator("message_id", "campaign_id", mode="before")(id_text)

    @model_validator(mode="after")
    def _exactly_one(self) -> SendRef:
        if (self.message_id is None) == (self.campaign_id is None):
            raise ValueError("give exactly one of message_id and campaign_id")
        return self


class CheckRequest(_Body):
    """Register a check: the rule's scenario for `send`, verified at `at`."""

    rule: str = Field(description="A rule with trigger clicked_by or not_clicked.")
    send: SendRef
    at: datetime = Field(description="Verification time, ISO 8601; must be in the future.")

    @field_validator("at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime:
        return parse_time(value)


class Check(BaseModel):
    id: str
    rule: str
    trigger: str
    send: SendRef | None
    recipient: str | None = Field(description="Set for a per-delivery check or a wait.")
    due_at: datetime
    status: Literal["pending", "done", "cancelled", "clicked", "timed_out", "failed"]
    origin: str = Field(description="config, api or delivery")
    created_at: datetime
    fired_at: datetime | None
    emitted: int = Field(description="Events this check has emitted so far.")


class CheckList(BaseModel):
    checks: list[Check]


class Person(_Body):
    email: str | None = Field(None, max_length=320)
    id: str | None = Field(None, max_length=ID_MAX)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _someone(self) -> Person:
        if not (self.email or "").strip() and not (self.id or "").strip():
            raise ValueError("a recipient needs an email or an id")
        return self


class RecipientsRequest(_Body):
    """Recipients of a send whose ESP does not report deliveries: each counts as delivered
    (at `delivered_at`, default now) and starts the same waits and checks a delivery does."""

    send: SendRef
    recipients: list[Person] = Field(min_length=1, max_length=10_000)
    delivered_at: datetime | None = None
    subject: str | None = None

    @field_validator("delivered_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return None if value is None else parse_time(value)


class Registered(BaseModel):
    registered: int
    timers_started: int


class WaitRequest(_Body):
    """Start a wait for a click (a rule with trigger = "wait") without a delivery event."""

    rule: str
    recipient: Person
    message_id: str = Field(min_length=1, max_length=ID_MAX)
    campaign_id: str | None = Field(None, max_length=ID_MAX)
    started_at: datetime | None = Field(None, description="Default: now.")

    @field_validator("started_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return None if value is None else parse_time(value)


class StoredEvent(BaseModel):
    seq: int
    event: dict[str, Any] = Field(description="The event, with its latest bot verdict.")
    decision: dict[str, Any] | None = Field(
        description="Why each rule matched or not: `immediate`, and `settled` for clicks."
    )
    processed: bool
    settled: bool


class EventPage(BaseModel):
    events: list[StoredEvent]
    next_before: int | None = Field(
        description="Pass as `before` for the next page; null: nothing older. A page"
        " filtered by `type` looks through at most 20,000 events, so it may hold fewer"
        " than `limit` events and still go on."
    )


class Problem(BaseModel):
    ok: Literal[False] = False
    error: str
    message: str
    problems: list[str] = Field(default_factory=list)
