"""Stand-ins for DNS and the network, so the SSRF guard is tested without traffic.

`StubDNS` answers test names from a table (and counts lookups); `RecordingBackend` is the
network under the guard: it records the address and port the guard connects to, the SNI
name TLS would use and the bytes a request would send, then replays a canned response. No
socket is opened, so a test may resolve a name to 10.0.0.5 or 169.254.169.254 safely.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from connector.delivery.addresses import DestinationPolicy
from connector.delivery.guard import GuardedBackend, GuardedHTTPTransport, GuardedTransport
from connector.delivery.resolver import CachingResolver

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


@dataclass
class StubDNS:
    """`lookup` for `CachingResolver`: name -> answers, or a list of answer lists to hand out
    in turn (a rebinding name); an unknown name fails as NXDOMAIN would."""

    answers: dict[str, list[str] | list[list[str]]]
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        answer = self.answers.get(host.rstrip("."))
        if answer is None:
            raise OSError(-2, "Name or service not known")
        if answer and isinstance(answer[0], list):
            turn = sum(1 for name in self.lookups if name == host) - 1
            return answer[min(turn, len(answer) - 1)]  # type: ignore[return-value]
        return answer  # type: ignore[return-value]


class RecordingStream(httpcore.AsyncMockStream):
    def __init__(self, backend: RecordingBackend) -> None:
        super().__init__([backend.response])
        self.backend = backend

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.backend.sent += buffer

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        self.backend.sni.append(server_hostname)
        return self


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """The network below the guard: records where it was asked to connect, sends nothing."""

    def __init__(self, response: bytes = NO_CONTENT) -> None:
        self.response = response
        self.connects: list[tuple[str, int]] = []
        self.sni: list[str | None] = []
        self.sent = b""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        return RecordingStream(self)

    async def sleep(self, seconds: float) -> None:
        return None


def recording_client(
    dns: StubDNS, network: RecordingBackend, resolver: CachingResolver | None = None
) -> httpx.AsyncClient:
    """A client wired like `make_client`'s, over `network` instead of real sockets."""
    resolver = resolver if resolver is not None else CachingResolver(dns)
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    context = ssl.create_default_context()  # never used for a handshake: the stream fakes TLS

    def make(policy: DestinationPolicy) -> httpx.AsyncBaseTransport:
        backend = GuardedBackend(policy, resolver, inner=network)
        return GuardedHTTPTransport(backend, limits, context)

    return httpx.AsyncClient(transport=GuardedTransport(make, DestinationPolicy()))
