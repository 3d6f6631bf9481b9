"""The contract every provider adapter fulfils, and the plain data it works on.

A provider knows its ESP's wire format and nothing else: `verify` checks authenticity on the
exact raw bytes and headers, `parse` turns the request into normalised events. Both are pure
(no network, no logging, no storage); the clock is `request.received_at`, so a captured
request replays exactly as it was judged (`connector inspect`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import msgspec
from pydantic import ValidationError

from connector.errors import MalformedPayload
from schemas import Event
from schemas.compiled import CompiledEvent, to_model, validation_problem


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """One received webhook call, exactly as it arrived."""

    source_id: str
    method: str
    url: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes
    client_ip: str | None
    received_at: datetime  # aware UTC

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Source:
    """One configured source as a provider sees it: credentials and options, no globals.

    Credential fields are named the same for every provider and are always tuples, so a
    source can hold several at once while keys are rotated.
    """

    id: str
    provider: str
    signing_keys: tuple[str, ...] = ()
    public_keys: tuple[str, ...] = ()
    basic_auth: tuple[str, ...] = ()  # "user:password"
    bearer_tokens: tuple[str, ...] = ()
    allowed_ips: tuple[str, ...] = ()  # addresses or CIDR networks
    topic_arns: tuple[str, ...] = ()
    timestamp_tolerance: int | None = None  # seconds; None means the provider's default
    url: str | None = None  # the exact URL registered with the ESP, where it is signed
    insecure: bool = False  # only the generic adapter may run without any check
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verified:
    """What authenticated the request.

    `nonce` is set by providers whose signature does not cover the body (Mailgun): the store
    accepts a nonce again only with the same `body_digest`, so a captured signature cannot be
    re-used for a different event while a genuine retry stays an acknowledged duplicate.
    """

    credential: str  # a label such as "signing_keys[1]", never the secret itself
    nonce: str | None = None
    body_digest: str | None = None


@dataclass(slots=True)
class ParsedEvent:
    """A normalised event and the provider's own item it came from (kept in storage).

    `built` is what the adapter produced with `build_event` (schemas/compiled.py); `event` is
    its pydantic model, built on first use, because ingest itself never needs it.
    """

    built: CompiledEvent
    raw: Any
    _model: Event | None = field(default=None, repr=False, compare=False)

    @property
    def event(self) -> Event:
        if self._model is None:
            self._model = to_model(self.built)
        return self._model


@dataclass(frozen=True, slots=True)
class Rejection:
    """An item of a valid batch that could not be normalised; the rest proceed."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class ControlTask:
    """Work a delivery asks of us that needs the network, done after the answer (SNS confirm)."""

    kind: str
    data: Mapping[str, str]


@dataclass(slots=True)
class ParseResult:
    """What one request holds.

    A body that cannot be read at all raises `MalformedPayload` (400). An item that can be
    read but not normalised is a `Rejection`: stored and counted with its reason, while the
    request is still acknowledged, because the ESP would only retry the same bytes.
    """

    events: list[ParsedEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # provider event types acknowledged only
    rejected: list[Rejection] = field(default_factory=list)
    tasks: list[ControlTask] = field(default_factory=list)

    def add(self, index: int, raw: Any, build: Callable[[], CompiledEvent]) -> None:
        """Append `build()` as an event from item `index`, or record why it failed."""
        try:
            self.events.append(ParsedEvent(build(), raw))
        except MalformedPayload as error:
            self.rejected.append(Rejection(index, error.message))
        except ValidationError as error:
            self.rejected.append(Rejection(index, _first_problem(error)))
        except msgspec.ValidationError as error:
            self.rejected.append(Rejection(index, validation_problem(error)))


def collect(
    items: Iterable[Any],
    kind_of: Callable[[dict[str, Any]], tuple[str | None, str]],
    build: Callable[[str, dict[str, Any]], CompiledEvent],
) -> ParseResult:
    """Judge each item of a delivery on its own, the same way for every provider.

    An item that is not an object is rejected (one broken item must not sink its batch);
    `kind_of(item)` gives our event type, or None plus the label counted as ignored; every
    other item becomes `build(kind, item)` through `ParseResult.add`. Providers whose items
    need more (SparkPost's ping items, Brevo's own rejection wording) keep their own loop.
    """
    result = ParseResult()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.rejected.append(Rejection(index, "event is not a JSON object"))
            continue
        kind, label = kind_of(item)
        if kind is None:
            result.ignored.append(label)
            continue
        result.add(index, item, partial(build, kind, item))
    return result


def by_field(types: Mapping[str, str], field: str, item: dict[str, Any]) -> tuple[str | None, str]:
    """The plain `kind_of` for `collect`: `item[field]` as text, looked up in the ESP's table.

    A missing field counts as "None", so deliveries without a type still show in the counts.
    """
    label = str(item.get(field))
    return types.get(label), label


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


class Provider(Protocol):
    """The surface of one provider module (see `providers/customerio.py`).

    Every member is required, the hooks most providers answer trivially too
    (`STATUS_OVERRIDES = {}`, `certificate_url` -> None, `sign_body` -> the body unchanged):
    the registry is typed `dict[str, Provider]`, so mypy refuses a module that lacks or
    misspells one, and the app calls them directly instead of looking them up by name.
    """

    name: str  # registry key and `provider` field of events
    title: str  # human name for docs and CLI output
    # our status -> the one this ESP must get instead (Brevo discards on 5xx: 503 -> 429)
    STATUS_OVERRIDES: Mapping[int, int]

    def check_source(self, source: Source) -> list[str]:
        """Problems with a source's configuration (fail closed: missing secrets)."""
        ...

    def verify(self, request: WebhookRequest, source: Source) -> Verified:
        """Raise `SignatureError` / `ForbiddenSource` unless the request is authentic."""
        ...

    def parse(self, request: WebhookRequest, source: Source) -> ParseResult:
        """Normalise a verified request; raise `MalformedPayload` for an unusable body."""
        ...

    def certificate_url(self, request: WebhookRequest) -> str | None:
        """The validated URL of a certificate `verify` needs in `source.options["certificates"]`
        (the app fetches and caches it first: SNS), or None where no fetch is needed."""
        ...

    def sign(self, body: bytes, source: Source, now: datetime) -> dict[str, str]:
        """Headers that make `body` verify for `source` (for `send-sample` and tests).

        Raise `NotImplementedError` where only the ESP holds the private key.
        """
        ...

    def sign_body(self, body: bytes, source: Source, now: datetime) -> bytes:
        """`body` as the ESP would send it at `now`: re-signed where the signature lives in the
        body (Mailgun, SNS), unchanged elsewhere. `send-sample` calls it before `sign`.

        Raise `NotImplementedError` where only the ESP holds the private key.
        """
        ...
