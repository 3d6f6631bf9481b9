"""A delivery's request and answer without httpx's models: what the sender hands the client.

httpx's API stays the way requests are dispatched (the client picks the transport, which is
where respx's `using="httpx"` mock intercepts), but on the hot path an attempt needs none of
`httpx.Request`/`Response`: its URL, policy and timeouts are the action's, prepared once
(`Route`), its headers a plain dict, and all it reads back is the status, `Retry-After` and
the start of the body (`Reply`). Building and converting httpx's models (header
normalisation and re-encoding on both sides, the URL's text per request) took 100 of the
~550 calls a delivery made (bench/fanout_calls.py). The guarded aiohttp engine takes a
`Route` directly (engine.py); any other transport (a respx mock, a test's) gets the
`httpx.Request` that `Route.request` builds, and its response is read into the same `Reply`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from yarl import URL


@functools.lru_cache(maxsize=1024)
def aiohttp_url(text: str) -> URL:
    return URL(text, encoded=True)  # httpx has encoded it: keep it byte for byte


@functools.lru_cache(maxsize=64)
def aiohttp_timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(sock_connect=connect, sock_read=read, connect=pool)


# A delivery's exchange is bounded as a whole by the sender's deadline (the action's
# timeout from the attempt's start, slow-loris safe), which always comes first: every
# phase starts at or after the attempt and had the same timeout, and aiohttp rounds those
# of 5 s or more up to whole seconds. So aiohttp gets none of its own: each cost a timer
# per request (the pool wait's `ceil_timeout`, the read timeout set at the response's
# start and again at its data), three loop timers and ~10 Python calls a delivery.
NO_PHASE_TIMEOUTS = aiohttp.ClientTimeout()


class Route:
    """Where and how an action's requests go, prepared once per action: httpx's URL for
    dispatch, aiohttp's for sending, and the request extensions (destination policy, and
    the per-phase timeouts other transports read)."""

    __slots__ = ("extensions", "host", "method", "target", "timeout", "url")

    def __init__(self, method: str, url: httpx.URL, extensions: dict[str, Any]) -> None:
        self.method = method
        self.url = url
        self.host = url.host
        self.target = aiohttp_url(str(url))
        self.extensions = extensions
        self.timeout = NO_PHASE_TIMEOUTS

    def request(self, headers: dict[str, str], body: bytes) -> httpx.Request:
        """The same request as httpx's model, for transports that take only that. Headers
        carry Host and Content-Length, and the stream is ready, so httpx adds nothing."""
        request = httpx.Request(
            self.method,
            self.url,
            headers=headers,
            stream=httpx.ByteStream(body),
            extensions=self.extensions,
        )
        request.read()  # keeps the body as `content`, for the transport and respx
        return request


@dataclass(slots=True)
class Reply:
    """A receiver's answer as far as an attempt reads it: `body` when it arrived whole with
    the headers, else `stream` to read the start of it from (and close)."""

    status: int
    retry_after: str | None
    body: bytes | None
    stream: httpx.Response | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        retry_after = response.headers.get("retry-after")
        if response.is_stream_consumed:  # the body came with the headers (engine.py)
            return cls(response.status_code, retry_after, response.content)
        return cls(response.status_code, retry_after, None, response)
