"""`GET|HEAD /t/{slug}`: record a `link.clicked` event durably, then answer the redirect.

The click is committed to the inbox before the 302 goes out, like a webhook before its 2xx,
and the worker is woken to score, route and deliver it. Answers: 302 to the destination
(`Cache-Control: no-store`, so every click reaches us); 404 for an unknown slug; 410 for a
disabled link, or a 302 to its `fallback_url` (a disabled link records nothing). The
destination comes only from the link's configuration (template.py), never from the request.

When storage is down, the person is still redirected: they came from an SMS or a chat
and an error page would strand them, while the lost click is logged at error level and
counted (`connector_webhooks{source="trigger_links",outcome="not_stored"}`). Only the lookup
of the link itself needs the database: if it is down and the link is not cached, 503.
Nothing answers 500: any other failure is logged with its stack and answered as the
not-stored case, or 503 before a destination is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import parse_qsl, quote

import structlog
from starlette.types import Receive, Scope, Send

from connector.links.cache import LinkCache
from connector.links.event import event_record
from connector.links.inbox import ClickInbox
from connector.links.template import CONTACT_PARAM, PLACEHOLDER, SLUG, TRAILING, fill
from connector.links.tokens import verify
from connector.metrics import Metrics
from connector.storage.base import Store
from connector.webhooks import client_ip

log = structlog.get_logger("connector.links")
_SAFE = ":/?#[]@!$&'()*+,;=%~"  # what `Location` keeps as is; the rest is percent-encoded


@dataclass
class LinkContext:
    """What the endpoint needs, built once in the app's lifespan."""

    store: Store
    cache: LinkCache
    wake: Callable[[], None]
    clock: Callable[[], datetime]
    secret: bytes | None
    trusted_proxies: list[str]
    metrics: Metrics | None = None
    ignore_params: frozenset[str] = frozenset()
    inbox: ClickInbox = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = ClickInbox(self.store, self.wake, self.metrics)


class RedirectEndpoint:
    """A raw ASGI endpoint (Starlette runs an instance without Request/Response wrapping)."""

    def __init__(self) -> None:
        self.context: LinkContext | None = None  # set by the app's lifespan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = self.context or scope["app"].state.links
        await redirect(context, scope, send)


async def redirect(context: LinkContext, scope: Scope, send: Send) -> None:
    """Answer one click; a bug anywhere on the way is logged and answered 503, never 500."""
    try:
        status, extra, body = await _respond(context, scope)
    except Exception:
        log.exception("link.click", outcome="error", status=503)
        status, extra, body = _UNAVAILABLE
    await _answer(send, status, extra, body)


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
_NOT_FOUND: Answer = (404, [], b"unknown link\n")
_GONE: Answer = (410, [], b"this link is no longer active\n")
_UNAVAILABLE: Answer = (503, [(b"retry-after", b"5")], b"temporarily unavailable\n")


async def _respond(context: LinkContext, scope: Scope) -> Answer:
    slug: str = scope["path_params"]["slug"]
    if not SLUG.match(slug):
        slug = slug.rstrip(TRAILING)  # "/t/spring." pasted with its sentence's full stop
        if not SLUG.match(slug):
            return _NOT_FOUND
    try:
        link = await context.cache.get(context.store, slug)
    except Exception:
        log.exception("link.click", slug=slug, outcome="lookup_failed", status=503)
        return _UNAVAILABLE
    if link is None:
        return _NOT_FOUND
    if not link.enabled:
        if link.fallback_url:
            return 302, [(b"location", quote(link.fallback_url, safe=_SAFE).encode())], b""
        return _GONE
    # The click, stored before the answer (inline: a coroutine per step costs its frame
    # again when the commit resumes the request).
    headers = _headers(scope["headers"])
    raw_query: bytes = scope.get("query_string", b"")
    query = parse_query(raw_query) if raw_query else {}
    contact = verify(context.secret, link.slug, query.pop(CONTACT_PARAM, None))
    filled = fill(link.destination, link.values, contact, query)
    if filled.missing:
        log.warning("link.fallback", slug=link.slug, missing=list(filled.missing), url=filled.url)
    peer = scope.get("client")
    try:
        record = event_record(
            link,
            filled,
            contact,
            headers.get("user-agent"),
            client_ip(peer[0] if peer else None, headers, context.trusted_proxies),
            scope["method"],
            _prefetch(headers),
            context.clock(),
            context.ignore_params,
        )
    except Exception:  # the person is redirected anyway (see the module docstring)
        log.exception("link.click", slug=link.slug, outcome="not_stored", status=302)
        context.inbox.count("not_stored", 1)
    else:
        await context.inbox.put(record, link.slug, contact is not None)
    location = filled.url if _kept_as_is(link.destination) else quote(filled.url, safe=_SAFE)
    return 302, [(b"location", location.encode("latin-1"))], b""


def parse_query(raw: bytes) -> dict[str, str]:
    """`dict(parse_qsl(raw.decode("latin-1")))`, without its unquoting when nothing is
    encoded (a token is URL-safe base64): pairs without a value are left out, the last of
    a repeated name wins. tests/links/test_redirect.py checks both agree."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text))
    found: dict[str, str] = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        if value:
            found[name] = value
    return found


@lru_cache(maxsize=1024)
def _kept_as_is(destination: str) -> bool:
    """Whether every URL filled from this template is already what `Location` needs: its
    own text quotes to itself, and filled values are percent-encoded whole (template.py),
    which quoting keeps as they are."""
    text = PLACEHOLDER.sub("", destination)
    return quote(text, safe=_SAFE) == text


# The request headers a click reads; the others are not even decoded.
_READ = frozenset({b"user-agent", b"sec-purpose", b"purpose", b"x-moz", b"x-forwarded-for"})


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw if k in _READ}


def _prefetch(headers: dict[str, str]) -> bool:
    """`Purpose: prefetch` (older Chrome/Safari), `Sec-Purpose: prefetch` (current Chrome)."""
    purpose = headers.get("sec-purpose") or headers.get("purpose") or headers.get("x-moz") or ""
    return "prefetch" in purpose.lower()


async def _answer(send: Send, status: int, extra: list[tuple[bytes, bytes]], body: bytes) -> None:
    """A bodiless redirect sends only what bare Starlette's would (no `content-type`), from
    a list made once: uvicorn checks every header against two regular expressions."""
    if body:
        headers = [*_TEXT_HEADERS, (b"content-length", str(len(body)).encode()), *extra]
    else:
        headers = [*_EMPTY_HEADERS, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_EMPTY_HEADERS = ((b"cache-control", b"no-store"), (b"content-length", b"0"))
_TEXT_HEADERS = ((b"cache-control", b"no-store"), (b"content-type", b"text/plain; charset=utf-8"))
