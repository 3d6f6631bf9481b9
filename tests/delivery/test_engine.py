"""httpx's transport over aiohttp's engine (engine.py): whatever way a receiver's answer
arrives, the sender sees its status and the start of its body; aiohttp's errors arrive as
the httpx errors the sender classifies."""

from __future__ import annotations

import asyncio
import gc

import aiohttp
import httpx
import pytest

from connector.delivery.client import make_client
from connector.delivery.engine import _read, httpx_error
from connector.delivery.policy import RetryPolicy
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings
from tests.delivery.conftest import T0, http_action, make_event
from tests.delivery.stubs import Receiver

SETTINGS = DeliverySettings(budget_seconds=3600)
BIG = b"x" * 200_000
CHUNKED = (
    b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nbusy \r\n3\r\nnow\r\n0\r\n\r\n"
)

# 100 bytes announced, 7 sent, then the receiver closes the connection.
CUT_SHORT = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\npartial"


def response(status: str, body: bytes, extra: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode()
    return head + extra + b"\r\n" + body


def attempt(answers: list[bytes], count: int = 1) -> list[AttemptResult]:
    async def run() -> list[AttemptResult]:
        async with Receiver(responses=answers) as receiver:
            action = http_action(url=f"http://127.0.0.1:{receiver.port}/hook")
            async with make_client(SETTINGS) as client:
                sender = Sender(client, {"crm": action}, RetryPolicy(SETTINGS))
                jobs = [
                    DeliveryJob(f"d{i}", "crm", make_event(), 1, None, T0) for i in range(count)
                ]
                return [await sender.attempt(job) for job in jobs]

    return asyncio.run(run())


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("answer", "outcome", "error"),
    [
        (response("200 OK", b"ok"), "delivered", None),
        (response("500 Oops", b"database down"), "retry", "HTTP 500: database down"),
        (CHUNKED, "retry", "HTTP 503: busy now"),
        (response("400 Bad", BIG), "dead", "HTTP 400: " + "x" * 200 + "…"),
        # A body cut short after the status: the status the receiver gave still decides.
        (CUT_SHORT, "delivered", None),
        (
            response("502 Bad Gateway", b"not gzip", b"Content-Encoding: gzip\r\n"),
            "retry",
            "HTTP 502",
        ),
    ],
    ids=["short", "error-body", "chunked", "large", "cut-short", "bad-gzip"],
)
def test_every_way_a_body_arrives_gives_the_status_and_its_start(
    answer: bytes, outcome: str, error: str | None
) -> None:
    """Whole, chunked, larger than the 64 KiB drained, cut short or undecodable: the
    status decides, with what could be read of the body."""
    [result] = attempt([answer])
    assert (result.outcome, result.error and result.error.split(";")[0]) == (outcome, error)


@pytest.mark.e2e
def test_a_connection_is_reused_after_a_short_answer() -> None:
    """Answers read with their headers give their connection back to the pool at once."""
    results = attempt([response("200 OK", b"ok")], count=3)
    assert [r.outcome for r in results] == ["delivered"] * 3


@pytest.mark.e2e
def test_attempts_leave_no_cyclic_garbage() -> None:
    """An attempt frees what it made when it ends: no response/stream cycle (~19 objects an
    attempt when `AsyncClient.send` bound them), so the worker's collector has nothing to do."""

    async def run() -> int:
        async with Receiver(responses=[response("200 OK", b"ok")]) as receiver:
            action = http_action(url=f"http://127.0.0.1:{receiver.port}/hook")
            async with make_client(SETTINGS) as client:
                sender = Sender(client, {"crm": action}, RetryPolicy(SETTINGS))
                jobs = [DeliveryJob(f"d{i}", "crm", make_event(), 1, None, T0) for i in range(51)]
                await sender.attempt(jobs[0])  # the session and its first connection
                gc.collect()
                gc.disable()
                try:
                    for job in jobs[1:]:
                        await sender.attempt(job)
                    return gc.collect()
                finally:
                    gc.enable()

    assert asyncio.run(run()) < 50  # under one object an attempt (was ~950 for 50)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (aiohttp.ConnectionTimeoutError("slow connect"), httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError("slow read"), httpx.ReadTimeout),
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientPayloadError("cut"), httpx.ReadError),
        (aiohttp.ClientOSError(104, "reset"), httpx.NetworkError),
        (aiohttp.InvalidURL("nope"), httpx.UnsupportedProtocol),
        (aiohttp.ClientError("other"), httpx.TransportError),
    ],
)
def test_aiohttp_errors_become_the_closest_httpx_error(
    error: aiohttp.ClientError, expected: type[httpx.TransportError]
) -> None:
    """Each aiohttp failure maps to one httpx class (a timeout stays a timeout)."""
    assert type(httpx_error(error)) is expected


@pytest.mark.parametrize("content", [b"", b"ok", b"x" * 70_000])
def test_a_response_that_came_whole_is_left_as_httpx_read_leaves_it(content: bytes) -> None:
    """The engine's already-read response looks exactly like one httpx read itself."""
    request = httpx.Request("POST", "http://127.0.0.1:9/hook")
    ours = _read(httpx.Response(200, stream=httpx.ByteStream(content), request=request), content)
    theirs = httpx.Response(200, content=content, request=request)

    def state(response: httpx.Response) -> tuple[object, ...]:
        return (
            response.content,
            response.is_stream_consumed,
            response.is_closed,
            response.num_bytes_downloaded,
            response.read(),
            asyncio.run(response.aread()),
        )

    assert state(ours) == state(theirs)
