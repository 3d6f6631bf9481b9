"""httpx's transport interface over aiohttp's engine, lean enough for a delivery's hot path.

httpx's API stays the delivery API (the client, `httpx.Request`/`Response`, respx in tests);
aiohttp does the HTTP work: about 3x the deliveries per core of httpx's own engine
(bench/fanout.py). httpx-aiohttp's `AiohttpTransport` converts each exchange generically;
this one does what a delivery needs, and no more. bench/fanout.py, same rounds, worker with
it against one with httpx-aiohttp's conversion: +17 % deliveries/s (median of 9 rounds) at 5
actions per event, +6 % at 1 (bench/README.md, "Delivery"):

* a delivery's own requests skip httpx's models altogether (`deliver`, exchange.py): the
  action's `Route` carries aiohttp's URL and timeout, prepared once, the headers go over
  as the sender's dict, and the answer comes back as a `Reply`;
* other requests' URLs are handed to aiohttp as a cached `yarl.URL` built from httpx's
  already encoded form, so neither library parses it again per request;
* request headers go over as a ready `CIMultiDict`, so aiohttp does not copy them;
* one `ClientTimeout` per distinct timeout, not one per request;
* a response whose body has already arrived with its headers (a receiver's short answer)
  is handed to httpx as bytes, already read (`_read`), and its connection released at once,
  skipping the async stream wrappers; longer or slower bodies stream (`_BodyStream`).

Redirects are never followed, bodies are not decompressed, and aiohttp's errors become
httpx's closest kind (`_ERRORS`; httpx-aiohttp's own mapping reports every connection
failure, a failed lookup included, as a `ConnectTimeout`), so the sender's classification
and log codes see httpx exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import httpx
from multidict import CIMultiDict

from connector.delivery.exchange import Reply, Route, aiohttp_timeout, aiohttp_url

_EXTENSIONS = {"http_version": b"HTTP/1.1"}
_ENCODING = "Content-Encoding"
# First match wins: the more specific aiohttp classes come first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # refused, lookup failed, TLS
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # not a valid HTTP response
    (aiohttp.ClientConnectionError, httpx.NetworkError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.TransportError),
)


class AiohttpEngine(httpx.AsyncBaseTransport):
    """One aiohttp session (made on first use by `session`) under httpx's transport API."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._make_session = session
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        try:
            response = await session.request(
                request.method,
                aiohttp_url(str(request.url)),
                headers=CIMultiDict(request.headers.multi_items()),
                data=request.content or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=aiohttp_timeout(
                    timeout.get("connect"), timeout.get("read"), timeout.get("pool")
                ),
            )
        except aiohttp.ClientError as error:
            raise httpx_error(error) from error
        return _to_httpx(response, request)

    async def deliver(self, route: Route, headers: dict[str, str], body: bytes) -> Reply:
        """A delivery's exchange without httpx's models (exchange.py): the same request as
        `handle_async_request` sends for `route.request(headers, body)`, and the same
        answer as `Reply.of` reads from its response."""
        session = self._session
        if session is None:
            session = self._session = self._make_session()
        try:
            response = await session.request(
                route.method,
                route.target,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=route.timeout,
            )
        except aiohttp.ClientError as error:
            raise httpx_error(error) from error
        content = response.content
        if content.is_eof() and content.exception() is None:
            answer = response.headers
            if _ENCODING not in answer:  # as in _to_httpx: nothing to decode
                data = content.read_nowait()
                response.release()
                return Reply(response.status, answer.get("Retry-After"), data)
        return Reply.of(_to_httpx(response, None))  # a body still arriving, or encoded

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def httpx_error(error: aiohttp.ClientError) -> httpx.TransportError:
    """The httpx exception for an aiohttp one, with its message."""
    kind = next(to for source, to in _ERRORS if isinstance(error, source))
    return kind(str(error))


def _to_httpx(response: aiohttp.ClientResponse, request: httpx.Request | None) -> httpx.Response:
    extensions = _EXTENSIONS
    if response.reason:
        extensions = {**extensions, "reason_phrase": response.reason.encode()}
    body = response.content
    # All of it arrived with the headers, and httpx has nothing to decode (a broken gzip
    # body must not hide the status: the sender reads encoded bodies as a stream).
    if body.is_eof() and body.exception() is None and _ENCODING not in response.headers:
        content = body.read_nowait()
        response.release()
        return _read(
            httpx.Response(
                response.status,
                headers=response.raw_headers,
                stream=httpx.ByteStream(content),
                request=request,
                extensions=extensions,
            ),
            content,
        )
    return httpx.Response(
        response.status,
        headers=response.raw_headers,
        stream=_BodyStream(response),
        request=request,
        extensions=extensions,
    )


def _read(response: httpx.Response, content: bytes) -> httpx.Response:
    """The response as `Response.read()` leaves it (content kept, stream consumed and
    closed), without read()'s generic pass through decoders and chunkers: there is nothing
    to decode. `httpx.Response(content=...)` made that pass and cost 8.2 µs a response
    against 1.4 µs (timeit); tests/delivery/test_engine.py pins the result to httpx's."""
    response._content = content
    response.is_stream_consumed = True
    response.is_closed = True
    return response


class _BodyStream(httpx.AsyncByteStream):
    """A body still arriving; the sender reads at most 64 KiB of it, then closes."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(16 * 1024):
                yield chunk
        except aiohttp.ClientError as error:
            raise httpx_error(error) from error

    async def aclose(self) -> None:
        self._response.release()  # closes the connection unless the body was read to its end
