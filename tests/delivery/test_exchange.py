"""A delivery without httpx's models (exchange.py) is the same exchange as with them: the
receiver gets the same request, and the sender reads the same answer, whichever way the
client's transport takes it."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from connector.delivery.client import deliver, make_client
from connector.delivery.exchange import Reply, Route
from connector.delivery.guard import GuardedTransport
from connector.delivery.settings import DeliverySettings
from tests.delivery.stubs import Receiver

SETTINGS = DeliverySettings(allow_networks=["127.0.0.0/8"])
BODY = b'{"type":"email.clicked"}'
RETRY = b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nRetry-After: 7\r\n\r\nbusy"
CHUNKED = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n0\r\n\r\n"
ZIPPED = gzip.compress(b"bad gateway")
GZIP = b"HTTP/1.1 502 Bad\r\nContent-Length: %d\r\nContent-Encoding: gzip\r\n\r\n%s" % (
    len(ZIPPED),
    ZIPPED,
)


def headers(port: int) -> dict[str, str]:
    return {
        "Host": f"127.0.0.1:{port}",
        "content-type": "application/json",
        "idempotency-key": "dlv_01",
        "Content-Length": str(len(BODY)),
    }


async def both_ways(answer: bytes) -> tuple[list[list[bytes]], list[tuple[object, ...]]]:
    """The heads the receiver got, and what was read, for one exchange each way: the
    engine's `deliver`, and `handle_async_request` of `Route.request` read by `Reply.of`."""
    async with Receiver(responses=[answer]) as receiver:
        url = httpx.URL(f"http://127.0.0.1:{receiver.port}/hooks/click?x=1")
        route = Route("POST", url, {"timeout": httpx.Timeout(5.0).as_dict()})
        async with make_client(SETTINGS) as client:
            transport = client._transport
            assert isinstance(transport, GuardedTransport)
            fast = await deliver(client, route, headers(receiver.port), BODY)
            request = route.request(headers(receiver.port), BODY)
            slow = Reply.of(await transport.handle_async_request(request))
            replies = [await read(fast), await read(slow)]
    heads = [sorted(line.lower() for line in head.split(b"\r\n")) for head in receiver.heads]
    return heads, replies


async def read(reply: Reply) -> tuple[object, ...]:
    if reply.stream is None:
        return reply.status, reply.retry_after, reply.body
    body = await reply.stream.aread()
    await reply.stream.aclose()
    return reply.status, reply.retry_after, body


@pytest.mark.e2e
@pytest.mark.parametrize(
    "answer",
    [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", RETRY, CHUNKED, GZIP],
    ids=["no-content", "retry-after", "chunked", "encoded"],
)
def test_both_ways_send_the_same_request_and_read_the_same_answer(answer: bytes) -> None:
    """Same request line, headers (names case-insensitive) and body; same status,
    Retry-After and body read back, whole or streamed."""
    heads, replies = asyncio.run(both_ways(answer))
    assert len(heads) == 2 and heads[0] == heads[1]
    assert b"post /hooks/click?x=1 http/1.1" in heads[0]
    assert replies[0] == replies[1]


def test_a_closed_client_refuses_to_deliver() -> None:
    """As `AsyncClient.send` would: a delivery after shutdown is an error, not a send."""
    client = make_client(SETTINGS)
    asyncio.run(client.aclose())
    route = Route("POST", httpx.URL("http://127.0.0.1:9/"), {})
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(deliver(client, route, {}, BODY))
