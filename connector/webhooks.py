"""`POST /webhooks/{source_id}`: read the raw bytes once, ingest, answer after the commit.

Statuses come from the error tree (connector/errors.py): 404 unknown source, 413 too large,
401 bad signature (with a `WWW-Authenticate` challenge where basic auth is asked for), 403
address not allowed, 400 unreadable body, 503 storage unavailable, 500 a bug (a provider's
`verify` raised, or anything else on the path: logged with its stack, so the ESP retries). A
client that leaves mid-body is counted and logged at info and gets no answer. Each path ends
in this one mapping with a JSON body, a log line and a metric, never in the server's bare
500, and the store commits a request's batch whole or not at all.
Authentic deliveries we do not route are still acknowledged with 200, because ESPs such as
Customer.io stall their whole stream behind a non-2xx answer.
"""

from __future__ import annotations

import ipaddress
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from connector.capture import save_capture, source_secrets
from connector.certificates import CertificateCache
from connector.errors import (
    ClientDisconnected,
    ConnectorError,
    CredentialsRequired,
    InternalError,
    PayloadTooLarge,
    UnknownSource,
)
from connector.metrics import Metrics
from connector.pipeline.ingest import ingest
from connector.settings import ServerSettings, SourceSettings
from connector.storage.base import Store
from providers.base import Provider, Source, WebhookRequest
from providers.registry import PROVIDERS

log = structlog.get_logger("connector.webhook")


# Request ids: a random per-process prefix and a counter (uuid4 per request cost ~5% of ingest).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def _next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


@dataclass
class WebhookContext:
    """What the endpoint needs, built once at start-up."""

    server: ServerSettings
    sources: dict[str, tuple[SourceSettings, Source]]
    store: Store
    metrics: Metrics
    certificates: CertificateCache | None
    wake: Callable[[], None]
    clock: Callable[[], datetime]
    ignore_params: frozenset[str] = frozenset()  # [canonical]: dropped from link.canonical


async def receive_webhook(
    context: WebhookContext, scope: Scope, receive: Receive, send: Send
) -> None:
    """The endpoint as a plain ASGI callable: no Request/Response objects on the hot path."""
    started = time.perf_counter()
    source_id = scope["path_params"]["source_id"]
    headers = _headers(scope)
    request_id = headers.get("x-request-id") or _next_request_id()
    webhook: WebhookRequest | None = None
    provider: Provider | None = None
    entry = context.sources.get(source_id)
    try:
        if entry is None:
            raise UnknownSource("no such source")
        settings, source = entry
        provider = PROVIDERS[settings.provider]
        body = await _read_body(receive, headers, context.server.max_body_bytes)
        webhook = _webhook_request(scope, headers, source_id, body, context)
        receipt = await ingest(
            provider,
            webhook,
            source,
            context.store,
            context.certificates,
            context.ignore_params,
        )
    except ClientDisconnected as gone:
        _disconnected(context, gone, source_id, started, request_id)
        return
    except Exception as caught:  # every path ends in the one mapping below
        error = caught if isinstance(caught, ConnectorError) else _internal(caught)
        status = status_for(provider, error)
        secrets = source_secrets(entry[1]) if entry is not None else []
        refusal = _refuse(context, error, source_id, webhook, started, request_id, secrets)
        await _answer(send, status, refusal, request_id, _challenge(error))
        return
    if receipt.accepted:
        context.wake()
    _count(
        context.metrics,
        source_id,
        receipt.accepted,
        receipt.duplicates,
        receipt.ignored,
        receipt.rejected,
    )
    elapsed = time.perf_counter() - started
    context.metrics.ack_latency.observe(elapsed)
    log.info(
        "webhook",
        outcome="accepted",
        request_id=request_id,
        source=source_id,
        credential=receipt.credential,
        accepted=receipt.accepted,
        duplicates=receipt.duplicates,
        ignored=receipt.ignored,
        rejected=receipt.rejected,
        duration_ms=round(elapsed * 1000, 2),
    )
    answer: dict[str, object] = {
        "ok": True,
        "accepted": receipt.accepted,
        "duplicates": receipt.duplicates,
        "ignored": receipt.ignored,
        "rejected": receipt.rejected,
    }
    await _answer(send, 200, answer, request_id)


class WebhookEndpoint:
    """`receive_webhook` for a Starlette `Route`: Starlette runs an instance as a raw ASGI app
    (a plain function would get the Request/Response wrapping this endpoint avoids)."""

    def __init__(self) -> None:
        self.context: WebhookContext | None = None  # set by the app's lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = self.context or scope["app"].state.webhooks
        await receive_webhook(context, scope, receive, send)


async def _answer(
    send: Send,
    status: int,
    content: dict[str, object],
    request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = orjson.dumps(content)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode("latin-1", "replace")),
        *(extra or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def probe_webhook(request: Request) -> Response:
    """GET/HEAD on a webhook URL: some ESPs (Mandrill) check the URL answers before use."""
    context: WebhookContext = request.app.state.webhooks
    if request.path_params["source_id"] not in context.sources:
        return JSONResponse({"ok": False, "error": "unknown_source"}, status_code=404)
    return JSONResponse({"ok": True})


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected(size)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _webhook_request(
    scope: Scope, headers: dict[str, str], source_id: str, body: bytes, context: WebhookContext
) -> WebhookRequest:
    peer = scope.get("client")
    return WebhookRequest(
        source_id=source_id,
        method=scope["method"],
        url=_url(scope, headers),
        headers=headers,
        body=body,
        client_ip=client_ip(peer[0] if peer else None, headers, context.server.trusted_proxies),
        received_at=context.clock(),
    )


def _headers(scope: Scope) -> dict[str, str]:
    """Header names lower-cased (ASGI already sends them so); the last of a repeated name wins."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _url(scope: Scope, headers: dict[str, str]) -> str:
    """The URL as the caller addressed it (cheaper than Starlette's full URL object)."""
    host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{scope['path']}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def client_ip(peer: str | None, headers: dict[str, str], trusted_proxies: list[str]) -> str | None:
    """The caller's address; X-Forwarded-For is believed only from a trusted proxy."""
    if not trusted_proxies or peer is None:
        return peer
    networks = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            return any(ipaddress.ip_address(address) in net for net in networks)
        except ValueError:
            return False

    if not trusted(peer):
        return peer
    hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not trusted(hop):
            return hop
    return peer


def _challenge(error: ConnectorError) -> list[tuple[bytes, bytes]] | None:
    """`WWW-Authenticate` for a refusal that asks for credentials (SNS sends none without)."""
    if isinstance(error, CredentialsRequired):
        return [(b"www-authenticate", error.challenge.encode("latin-1"))]
    return None


def status_for(provider: Provider | None, error: ConnectorError) -> int:
    """The error's status, unless the provider's retry rules need another code for it.

    Example: Brevo discards a webhook on any 5xx, so its adapter maps our 503 (retry
    later) to 429, the one code Brevo retries.
    """
    if provider is None:
        return error.status_code
    return provider.STATUS_OVERRIDES.get(error.status_code, error.status_code)


def _internal(bug: Exception) -> InternalError:
    """A bug outside the provider hooks (ingest wraps those): its type only, never its text."""
    return InternalError(f"internal error ({type(bug).__name__})")


def _refuse(
    context: WebhookContext,
    error: ConnectorError,
    source_id: str,
    webhook: WebhookRequest | None,
    started: float,
    request_id: str,
    secrets: list[str],
) -> dict[str, object]:
    """Count, log and (if configured) capture a refusal; returns the answer's body.

    Called while the exception is being handled: a bug (`InternalError`) is logged at error
    level with its stack (`log.exception`, the provider's own exception chained as cause).
    """
    bug = isinstance(error, InternalError)
    context.metrics.rejected.labels(source_id, error.reason).inc()
    context.metrics.requests.labels(source_id, "error" if bug else "rejected").inc()
    if webhook is not None and context.server.capture_rejected_dir:
        _capture(context.server.capture_rejected_dir, webhook, error.message, secrets)
    (log.exception if bug else log.info)(
        "webhook",
        outcome="error" if bug else "rejected",
        request_id=request_id,
        source=source_id,
        status=error.status_code,
        reason=error.reason,
        detail=error.message,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return {"ok": False, "error": error.reason, "message": error.message}


def _capture(folder: str, webhook: WebhookRequest, reason: str, secrets: list[str]) -> None:
    """Save a refused request for `connector inspect`; a full disk must not fail the answer."""
    try:
        save_capture(folder, webhook, reason, secrets)
    except OSError as error:
        log.warning("capture.failed", source=webhook.source_id, error=type(error).__name__)


def _disconnected(
    context: WebhookContext,
    gone: ClientDisconnected,
    source_id: str,
    started: float,
    request_id: str,
) -> None:
    """A caller that left mid-body: counted and logged, nothing stored, nobody to answer."""
    context.metrics.requests.labels(source_id, "disconnected").inc()
    log.info(
        "webhook",
        outcome="disconnected",
        request_id=request_id,
        source=source_id,
        status=gone.status_code,
        reason=gone.reason,
        received_bytes=gone.received_bytes,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _count(metrics: Metrics, source: str, accepted: int, dup: int, ignored: int, rej: int) -> None:
    counters = metrics.for_source(source)
    counters.accepted.inc()
    if accepted:
        counters.received.inc(accepted)
    if dup:
        counters.duplicates.inc(dup)
    if ignored:
        counters.ignored.inc(ignored)
    if rej:
        counters.items_rejected.inc(rej)
