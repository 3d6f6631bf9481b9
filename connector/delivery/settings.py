"""Configuration of downstream actions (`[[actions]]`) and of the delivery worker (`[delivery]`).

Everything is checked at load so that a typo fails start-up instead of dead-lettering events
later: URLs, header names, the Standard Webhooks secret format, body-mapping paths (against
the event schema) and JSON defaults. An action URL whose host is a literal address or
`localhost` that the SSRF guard would refuse (addresses.py) fails here too, naming the
action; host names are checked after resolution, at connect time (guard.py).

Errors must never echo inputs, because header values, secrets and some URLs (e.g.
catch-hook URLs whose path is the credential) are secrets: these models set
`hide_input_in_errors`, and so must any root model that embeds them (see `ACTIONS_ADAPTER`).

Example::

    [delivery]
    budget_seconds = 259200          # 72 h, then dead-letter
    allow_networks = ["10.20.0.0/16"]  # internal receivers every action may reach

    [[actions]]
    id = "crm"
    type = "http"
    url = "https://crm.example.com/hooks/click"
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = { authorization = "Bearer ..." }

    [[actions]]
    id = "bus"
    type = "http"
    url = "http://127.0.0.1:8081/events"
    allow_networks = ["127.0.0.0/8"]  # this action only
    format = "cloudevents"           # CloudEvents 1.0 over HTTP (cloud_events.py)
    mode = "structured"              # or "binary"

    [actions.body]                   # omit for the whole normalised event
    email = "recipient.email"
    link = "link.url"
    campaign = { path = "message.campaign_id", default = "none" }
    bot = { score = "bot.score", suspected = "bot.suspected" }
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connector.delivery.addresses import DestinationPolicy, host_addresses
from connector.delivery.template import BodySpec, path_problems, validate_body

# Standard Webhooks: "whsec_" + base64 key; the key SHOULD be 24 to 64 bytes.
# https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64

# Headers we set ourselves: letting config override them would break signing, framing or dedup.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "transfer-encoding",
        "connection",
        "host",
        "idempotency-key",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # no CR/LF/NUL; httpx encodes as ASCII
_HOST = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+")  # DNS name (IDNs arrive as punycode), IPs
_ACTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# Where `[delivery] allow_networks` waits for the actions' checks during one settings load:
# pydantic validates fields in declaration order, and the root model declares `delivery`
# before `actions`. Without a context (an action validated on its own) only the action's own
# list applies, which can only be stricter.
ALLOW_CONTEXT = "delivery.allow_networks"
TRANSPORT_REMOVED = (
    "[delivery] transport is no longer a setting and is ignored: deliveries always use "
    "httpx's API over aiohttp's engine; delete the line"
)
_ALLOW_DESCRIPTION = (
    "Networks deliveries may reach although they are not public (loopback, private, "
    'link-local...), e.g. ["127.0.0.0/8"]; a cloud metadata address needs its own /32 or /128.'
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class LogAction(_Strict):
    """Writes the (optionally mapped) event to the structured log: for demos and dry runs."""

    id: str = Field(pattern=_ACTION_ID, description="The action's name, used by rules.")
    type: Literal["log"] = Field("log", description="Write each event to the service's log.")
    body: BodySpec = Field(
        "event", description='"event" (the whole event) or a body template table.'
    )

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, raw: Any) -> Any:
        return validate_body(raw)

    @model_validator(mode="after")
    def _body_paths(self) -> LogAction:
        _raise_for(self.id, path_problems(self.body))
        return self


class HttpAction(_Strict):
    """POSTs (or PUTs/PATCHes) the event as JSON to one downstream URL."""

    id: str = Field(pattern=_ACTION_ID, description="The action's name, used by rules.")
    type: Literal["http"] = Field(
        "http", description="POST (or PUT/PATCH) the event as JSON to url."
    )
    url: str = Field(description="http:// or https:// endpoint; redirects are not followed.")
    method: Literal["POST", "PUT", "PATCH"] = Field("POST", description="HTTP method.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Extra request headers; values are kept secret."
    )
    timeout: float = Field(10.0, gt=0, le=300, description="Whole-attempt limit in seconds.")
    secret: SecretStr | None = Field(
        None, description="Standard Webhooks secret (`whsec_` + base64) to sign requests."
    )
    body: BodySpec = Field(
        "event",
        description='"event" (the whole event) or a body template table: output key = field path.',
    )
    allow_networks: tuple[IPvAnyNetwork, ...] = Field((), description=_ALLOW_DESCRIPTION)
    format: Literal["json", "cloudevents"] = Field(
        "json", description='"cloudevents": CloudEvents 1.0 over HTTP, the body as `data`.'
    )
    mode: Literal["structured", "binary"] = Field(
        "structured",
        description="CloudEvents content mode; structured puts the attributes in the signed "
        "body, binary puts them in `ce-*` headers, which the signature does not cover.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as error:
            raise ValueError("url is not a valid URL") from error
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("url must be an absolute http:// or https:// URL")
        # httpx percent-encodes what it cannot parse (a space in a host), so check ourselves.
        if not _HOST.fullmatch(parsed.raw_host.decode("ascii", "replace")):
            raise ValueError("url has an invalid host")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise ValueError("url has an invalid port")
        return url

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, method: Any) -> Any:
        return method.upper() if isinstance(method, str) else method

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP token")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the connector and cannot be set")
            if not _HEADER_VALUE.fullmatch(value.get_secret_value()):
                raise ValueError(f"header {name!r} value must be printable ASCII")
        return headers

    @field_validator("secret")
    @classmethod
    def _secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None:
            secret_key(secret)
        return secret

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, raw: Any) -> Any:
        return validate_body(raw)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> HttpAction:
        problems = path_problems(self.body)
        if self.format != "cloudevents":
            if "mode" in self.model_fields_set:
                problems.append('mode applies to format = "cloudevents" only')
        else:
            problems += [
                f"header {name!r}: ce-* headers carry CloudEvents attributes we set"
                for name in self.headers
                if name.lower().startswith("ce-")
            ]
        context = info.context if isinstance(info.context, dict) else {}
        policy = DestinationPolicy.of(self.allow_networks, context.get(ALLOW_CONTEXT, ()))
        host = httpx.URL(self.url).host
        refused = [r for r in map(policy.refusal, host_addresses(host)) if r is not None]
        if refused:
            reasons = "; ".join(r.reason for r in refused)
            problems.append(f"url host {host!r} is refused: {reasons}; {refused[0].advice}")
        _raise_for(self.id, problems)
        return self


def _raise_for(action_id: str, problems: list[str]) -> None:
    """One error naming the action, so `check-config` says which `[[actions]]` entry."""
    if problems:
        raise ValueError(f"action {action_id!r}: " + "; ".join(problems))


def secret_key(secret: SecretStr) -> bytes:
    """The raw key of a `whsec_` secret; raises ValueError (without the secret) if malformed."""
    value = secret.get_secret_value()
    if not value.startswith(SECRET_PREFIX):
        raise ValueError(f"secret must start with {SECRET_PREFIX!r} followed by base64")
    encoded = value[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("secret is not valid base64 after 'whsec_'") from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValueError(
            f"secret key must be {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, got {len(key)}"
        )
    return key


Action = Annotated[HttpAction | LogAction, Field(discriminator="type")]

# For loading `[[actions]]` on its own. A root settings model embedding `Action` must set
# `hide_input_in_errors=True` itself: pydantic takes that flag from the outermost model.
ACTIONS_ADAPTER: TypeAdapter[list[HttpAction | LogAction]] = TypeAdapter(
    list[Action], config=ConfigDict(hide_input_in_errors=True)
)


class DeliverySettings(_Strict):
    """The `[delivery]` section: worker sizing and the retry schedule (see policy.py)."""

    budget_seconds: float = Field(
        72 * 3600, gt=0, description="Retry for this long after the first attempt, then dead."
    )
    initial_backoff_seconds: float = Field(
        5.0, gt=0, description="Wait after the first failure; doubles after each failure."
    )
    max_backoff_seconds: float = Field(3600.0, gt=0, description="Cap on the doubling wait.")
    jitter_seconds: float = Field(
        10.0, ge=0, description="Uniform random extra wait, added after the cap."
    )
    concurrency: int = Field(
        20,
        ge=1,
        le=100,
        description="Attempts in flight = HTTP connections, over all destinations.",
    )
    destination_concurrency: int = Field(
        10,
        ge=1,
        le=100,
        description="Attempts in flight to one destination (scheme, host and port), so a slow "
        "receiver cannot take every connection; its backlog beyond a fair share of the "
        "in-flight window waits for its lease (connector/delivery/outflow.py).",
    )
    batch_size: int = Field(
        50,
        ge=1,
        le=1000,
        description="Deliveries claimed (and their outcomes recorded) per transaction; the "
        "in-flight window is twice this (connector/delivery/outflow.py). Under load each "
        "transaction waits its turn at the group commit, so batches of 10 drained only ~550 "
        "deliveries a second beside 3,400 webhooks a second.",
    )
    max_attempts: int | None = Field(
        None, ge=1, description="Optional cap on attempts; the time budget applies regardless."
    )
    allow_networks: tuple[IPvAnyNetwork, ...] = Field(
        (), description=f"{_ALLOW_DESCRIPTION} Applies to every action."
    )

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        """`transport` chose between two HTTP engines until there was one: a file that still
        sets it gets the same deliveries it always did (httpx's API, the same SSRF guard), so
        it warns instead of failing start-up as an unknown key would."""
        if isinstance(data, dict) and "transport" in data:
            warnings.warn(TRANSPORT_REMOVED, FutureWarning, stacklevel=2)
            data = {key: value for key, value in data.items() if key != "transport"}
        return data

    @model_validator(mode="after")
    def _backoff_order(self, info: ValidationInfo) -> DeliverySettings:
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("max_backoff_seconds must be >= initial_backoff_seconds")
        if isinstance(info.context, dict):
            info.context[ALLOW_CONTEXT] = self.allow_networks
        return self
