"""Receive → verify → normalise → store: everything between the raw request and the 2xx.

The request path does no network I/O of its own (only a cached certificate fetch for SNS,
once per certificate) and answers only after the store has committed the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

import msgspec
import orjson

from connector.certificates import CertificateCache
from connector.errors import ConnectorError, InternalError, MalformedPayload, SignatureError
from connector.storage.base import (
    EventRecord,
    IngestBatch,
    RejectedItem,
    Store,
    TaskRecord,
)
from providers.base import (
    ParsedEvent,
    ParseResult,
    Provider,
    Rejection,
    Source,
    Verified,
    WebhookRequest,
)
from providers.canonical import canonical_url
from schemas.compiled import CompiledEvent

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Receipt:
    """What happened to one accepted webhook, for the response, the log line and metrics."""

    accepted: int
    duplicates: int
    ignored: int
    rejected: int
    credential: str
    event_ids: list[str]


async def verify(
    provider: Provider,
    request: WebhookRequest,
    source: Source,
    certificates: CertificateCache | None,
) -> Verified:
    """Run the provider's check, first fetching a signing certificate if it needs one.

    Anything but our own errors raised by the provider is a bug: `InternalError` (500, so the
    ESP retries; the endpoint logs the stack, chained as `__cause__`).
    """
    if certificates is not None:
        url = _guarded(provider, provider.certificate_url, request)
        if url is not None and url not in source.options.get("certificates", {}):
            pems = await certificates.certificates_for(url)
            merged = {**source.options.get("certificates", {}), **pems}
            source = _with_options(source, certificates=merged)
    return _guarded(provider, provider.verify, request, source)


def _guarded(provider: Provider, hook: Callable[..., _T], *args: Any) -> _T:
    try:
        return hook(*args)
    except ConnectorError:
        raise
    except Exception as error:  # a provider bug: never a bare 500, never a silent pass
        message = f"internal error in {provider.name} verify ({type(error).__name__})"
        raise InternalError(message, reason="verify_crash") from error


def _with_options(source: Source, **options: object) -> Source:
    return replace(source, options={**source.options, **options})


def normalise(provider: Provider, request: WebhookRequest, source: Source) -> ParseResult:
    """The provider's pure parse; an unexpected crash becomes a stored, reported rejection."""
    try:
        return provider.parse(request, source)
    except MalformedPayload:
        raise
    except Exception as error:  # a parser bug must not lose an authentic request
        result = ParseResult()
        result.rejected.append(Rejection(-1, f"internal parser error: {type(error).__name__}"))
        return result


def build_batch(
    request: WebhookRequest,
    verified: Verified,
    result: ParseResult,
    ignore_params: frozenset[str] = frozenset(),
) -> IngestBatch:
    received = request.received_at.timestamp()
    events = [_event_record(parsed, received, ignore_params) for parsed in result.events]
    rejected = [
        RejectedItem(index=r.index, reason=r.reason, raw=_raw_item(request.body, r.index))
        for r in result.rejected
    ]
    tasks = [TaskRecord(kind=t.kind, data=orjson.dumps(dict(t.data))) for t in result.tasks]
    return IngestBatch(
        source=request.source_id,
        received_at=received,
        events=events,
        rejected=rejected,
        tasks=tasks,
        nonce=verified.nonce,
        body_digest=verified.body_digest,
    )


def _event_record(parsed: ParsedEvent, received: float, ignore: frozenset[str]) -> EventRecord:
    event = parsed.built
    if ignore and event.type == "email.clicked":
        event = with_canonical(event, ignore)
    return EventRecord.of(event, received, orjson.dumps(parsed.raw, default=str))


def with_canonical(event: CompiledEvent, ignore: frozenset[str]) -> CompiledEvent:
    """A click whose `link.canonical` also drops the config's `[canonical] ignore_params`."""
    link: Any = getattr(event, "link")  # noqa: B009 (a click has one; the view does not say)
    canonical = canonical_url(link.url, ignore)
    updated = msgspec.structs.replace(link, canonical=canonical)
    return cast(CompiledEvent, msgspec.structs.replace(cast(Any, event), link=updated))


def _raw_item(body: bytes, index: int) -> bytes:
    """The rejected item's own bytes where the body is a JSON array, else the whole body."""
    if index >= 0:
        try:
            items = orjson.loads(body)
            if isinstance(items, list) and index < len(items):
                return orjson.dumps(items[index])
        except orjson.JSONDecodeError:
            pass
    return body


async def ingest(
    provider: Provider,
    request: WebhookRequest,
    source: Source,
    store: Store,
    certificates: CertificateCache | None = None,
    ignore_params: frozenset[str] = frozenset(),
) -> Receipt:
    """`ignore_params`: the config's extra query parameters to drop from `link.canonical`."""
    verified = await verify(provider, request, source, certificates)
    result = normalise(provider, request, source)
    batch = build_batch(request, verified, result, ignore_params)
    outcome = await store.ingest(batch)
    if outcome.replayed_nonce:
        raise SignatureError(
            "signature token was already used for another request", reason="replay"
        )
    return Receipt(
        accepted=len(outcome.new),
        duplicates=len(outcome.duplicates),
        ignored=len(result.ignored),
        rejected=len(result.rejected),
        credential=verified.credential,
        event_ids=outcome.new,
    )
