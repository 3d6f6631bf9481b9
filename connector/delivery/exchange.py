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


class Route:
    """Where and how an action's requests go, prepared once per action: httpx's URL for
    dispatch, aiohttp's for sending, the request extensions (destination policy, timeouts)
    and aiohttp's form of those timeouts."""

    __slots__ = ("extensions", "host", "method", "target", "timeout", "url")

    def __init__(self, method: str, url: httpx.URL, extensions: dict[str, Any]) -> None:
        self.method = method
        self.url = url
        self.host = url.host
        self.target = aiohttp_url(str(url))
        self.extensions = extensions
        timeout: dict[str, Any] = extensions.get("timeout", {})
        self.timeout = aiohttp_timeout(
            timeout.get("connect"), timeout.get("read"), timeout.get("pool")
        )

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
