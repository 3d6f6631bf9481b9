"""Rule configuration: the `[[rules]]` tables of the TOML config, validated at start-up.

```toml
[[rules]]
id = "pricing-humans"
actions = ["crm"]
wait_for_settled = true          # act on the settled bot verdict (the service times it)
when = { all = [
  { field = "link.host", eq = "shop.example.org" },
  { field = "link.query.utm_source", in = ["cio", "newsletter"] },
  { not = { field = "recipient.email", ends_with = "@example.com", case_insensitive = true } },
] }
```

Operator semantics (what a no-code author can rely on):

* A field that is absent or null is *missing*. Every leaf on a missing field is false, except
  `exists = false`. That includes `ne` and `not_in`: "host ne 'x'" means "there is a host and
  it is not 'x'". Wrap a leaf in `not` for "anything but", missing included.
* `eq`/`ne`/`in`/`not_in` compare like JSON: types must match, so `false` never equals `0` and
  `"1"` never equals `1`; numbers compare by value (`1 == 1.0`). `in`/`not_in` take a list of
  strings, numbers or booleans and are false on a list or table field: use `contains` there.
* `contains`: substring when the field is a string, element membership when it is a list;
  anything else is false. `starts_with`/`ends_with` take a string or a list (any of them).
* `matches`: Python regular expression, searched anywhere in a string field (anchor with `^`
  and `$`); compiled once at load; an invalid pattern is a config error.
* `exists = true|false`: whether the field is present and not null.
* `gt`/`gte`/`lt`/`lte`: numbers with numbers; dates (a TOML date or datetime, or an ISO 8601
  string) with ISO 8601 date strings, naive times taken as UTC; other strings with strings,
  by code point. A type mismatch is false, never an error.
* `case_insensitive = true` on a leaf folds case for every string comparison it makes.
* `all` needs every item, `any` at least one, `not` inverts its one condition.
* Field paths are checked against the event schema of the rule's `event` types; URL parts
  `link.scheme`, `link.path`, `link.query.<param>` and `link.fragment` are available.

Rules skip ESP test sends and system links (unsubscribe, preferences, view-in-browser,
non-http links; see `links.py`) unless `include_test_sends` / `include_system_links` is set.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from connector.rules.conditions import (
    Condition,
    ConditionError,
    dump_condition,
    iter_leaves,
    parse_condition,
)
from connector.rules.paths import path_problem
from connector.rules.scenario_model import Duration, LinkPattern, Moment, id_text, parse_links
from schemas import EVENT_MODELS

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _parse_when(raw: Any) -> Condition | None:
    return None if raw is None else parse_condition(raw)


def _dump_when(condition: Condition | None) -> dict[str, Any] | None:
    return None if condition is None else dump_condition(condition)


When = Annotated[Condition | None, PlainValidator(_parse_when), PlainSerializer(_dump_when)]


def _dump_links(links: tuple[LinkPattern, ...] | None) -> Any:
    return "any" if links is None else [{p.kind: p.value} for p in links]


def _parse_links(raw: Any, info: ValidationInfo) -> tuple[LinkPattern, ...] | None:
    context = info.context if isinstance(info.context, dict) else {}
    return parse_links(raw, context.get("ignore_params", frozenset()))


Links = Annotated[
    tuple[LinkPattern, ...] | None, PlainValidator(_parse_links), PlainSerializer(_dump_links)
]
Trigger = Literal["click", "clicked_by", "not_clicked", "wait"]
# The event a rule's `when` is tested on, by trigger (its default `event`).
TRIGGER_EVENTS: dict[str, str] = {
    "click": "email.clicked",
    "clicked_by": "email.clicked",
    "not_clicked": "email.not_clicked",
    "wait": "email.clicked",
}


class SendSettings(BaseModel):
    """`send = { campaign_id = "..." }` or `{ message_id = "..." }`: what a check covers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: StrictStr | None = Field(None, description="One message.")
    campaign_id: StrictStr | None = Field(
        None, description="A campaign (broadcast, newsletter) with all its messages."
    )

    _ids = field_validator("message_id", "campaign_id", mode="before")(id_text)

    @model_validator(mode="after")
    def _one(self) -> SendSettings:
        if (self.message_id is None) == (self.campaign_id is None):
            raise ValueError("send needs exactly one of message_id and campaign_id")
        if not (self.message_id or self.campaign_id or "").strip():
            raise ValueError("send: the id cannot be empty")
        return self


class RuleSettings(BaseModel):
    """One `[[rules]]` table; every validation error names the rule and the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(description="The rule's name in decisions and deliveries.")
    description: StrictStr | None = Field(None, description="Free text for people.")
    event: list[str] = Field(
        default_factory=lambda: ["email.clicked"],
        description="Event types the rule's conditions are tested on (default by trigger).",
    )
    when: When = Field(
        None,
        description=(
            "Conditions on any field: all / any / not of { field, operator = value }"
            " (README: Rules)."
        ),
    )
    actions: list[StrictStr] = Field(
        default_factory=list, description="Action ids that receive the matching event."
    )
    wait_for_settled: StrictBool = Field(
        False, description="Act on the settled bot verdict (bots.settle_seconds after the click)."
    )
    include_test_sends: StrictBool = Field(False, description="Also match the ESP's test sends.")
    include_system_links: StrictBool = Field(
        False, description="Also match unsubscribe, preference and view-in-browser links."
    )
    # scenarios (README "Scenarios"; connector/scenarios/)
    trigger: Trigger = Field(
        "click",
        description=(
            "click: as clicks arrive; clicked_by / not_clicked: at a check's time; wait: a click "
            "within timeout of a delivery (README: Scenarios)."
        ),
    )
    links: Links = Field(
        None,
        description=(
            '"any" or link patterns (exact URL, glob with *, { prefix = URL }) matched on'
            " link.canonical."
        ),
    )
    at: Moment | None = Field(
        None, description="A check's verification time (ISO 8601; naive is UTC)."
    )
    after: Duration | None = Field(
        None,
        description=(
            'not_clicked: check this long after each delivery ("48h", "2d", "PT48H", seconds).'
        ),
    )
    timeout: Duration | None = Field(
        None, description="wait: how long to wait for a click after each delivery."
    )
    send: SendSettings | None = Field(
        None, description="What a check covers: { campaign_id = ... } or { message_id = ... }."
    )
    on_click: list[StrictStr] = Field(
        default_factory=list, description="wait: actions that get the click."
    )
    on_timeout: list[StrictStr] = Field(
        default_factory=list, description="wait: actions that get the email.click_timeout event."
    )
    include_bot_clicks: StrictBool = Field(
        False, description="Checks: count clicks whose verdict says bot too."
    )
    audience: Literal["delivered", "sent"] = Field(
        "delivered",
        description=(
            "not_clicked: recipients reported delivered (default), or also those only"
            " reported sent."
        ),
    )
    group: StrictStr | None = Field(
        None,
        description="Rules sharing a group: only the first to match fires per recipient and send.",
    )
    once_per: Literal["event", "recipient", "message", "campaign"] = Field(
        "event",
        description=(
            "event (default), recipient, message or campaign: how often the rule may fire for one "
            "contact."
        ),
    )
    reenter_after: Duration | None = Field(
        None, description="With once_per: the contact may enter again after this long."
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a valid rule id: use up to 64 letters, digits, '-', '_', '.' "
                "or ':', starting with a letter or digit"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _event_from_trigger(cls, data: Any) -> Any:
        """A scenario rule's conditions are tested on the event its trigger produces."""
        if isinstance(data, dict) and "event" not in data:
            trigger = data.get("trigger", "click")
            if isinstance(trigger, str) and trigger in TRIGGER_EVENTS:
                return {**data, "event": [TRIGGER_EVENTS[trigger]]}
        return data

    @field_validator("event", mode="before")
    @classmethod
    def _event_types(cls, value: Any) -> list[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValueError("expected an event type or a non-empty list of them")
        for item in items:
            if not isinstance(item, str) or item not in EVENT_MODELS:
                known = ", ".join(sorted(EVENT_MODELS))
                raise ValueError(f"unknown event type {item!r}; known: {known}")
        return list(dict.fromkeys(items))

    @field_validator("actions", "on_click", "on_timeout")
    @classmethod
    def _action_list(cls, value: list[str]) -> list[str]:
        for action in value:
            if value.count(action) > 1:
                raise ValueError(f"action {action!r} is listed more than once")
            if not action.strip():
                raise ValueError("action ids cannot be empty")
        return value

    @model_validator(mode="after")
    def _scenario_shape(self) -> RuleSettings:
        """Which keys each trigger takes (scenario_checks.py says why)."""
        from connector.rules.scenario_checks import scenario_problem

        problem = scenario_problem(self)
        if problem is not None:
            raise ConditionError((problem[0],), problem[1])
        return self

    def all_actions(self) -> list[str]:
        return [*self.actions, *self.on_click, *self.on_timeout]

    @property
    def scheduled(self) -> bool:
        """Fires from a check at a time, not as clicks arrive."""
        return self.trigger in ("clicked_by", "not_clicked")

    @model_validator(mode="after")
    def _fields_exist(self) -> RuleSettings:
        if self.when is not None:
            for loc, leaf in iter_leaves(self.when):
                problem = path_problem(leaf.field, self.event)
                if problem is not None:
                    raise ConditionError(("when", *loc, "field"), problem)
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_rule(cls, data: Any, handler: ModelWrapValidatorHandler[RuleSettings]) -> Any:
        """Prefix every error with the rule's id, and point `when` errors at the exact key."""
        try:
            return handler(data)
        except ValidationError as error:
            raise _named(error, data) from None


def _named(error: ValidationError, data: Any) -> ValidationError:
    rule_id = data.get("id") if isinstance(data, dict) else None
    if isinstance(rule_id, str) and rule_id:
        label = f"rule {rule_id[:80]!r}"
    else:
        label = "rule without an id"
    details: list[InitErrorDetails] = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        message = problem["msg"]
        cause = (problem.get("ctx") or {}).get("error")
        if isinstance(cause, ConditionError):
            loc, message = loc + cause.loc, cause.message
        elif isinstance(cause, Exception):
            message = str(cause)
        text = f"{label}: {message}"  # one context key, so braces in it are never re-expanded
        details.append(
            {
                "type": PydanticCustomError("rule_config", "{text}", {"text": text}),
                "loc": loc,
                "input": problem.get("input"),
            }
        )
    return ValidationError.from_exception_data(error.title, details)
