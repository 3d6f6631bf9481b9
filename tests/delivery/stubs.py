"""Stand-ins for DNS and the network, so the SSRF guard is tested on aiohttp's real engine
while only 127.0.0.1 ever receives traffic.

`StubDNS` answers test names from a table (and counts lookups), so a name may *answer*
10.0.0.5 or 169.254.169.254. `RecordingNetwork` is the socket factory aiohttp dials
through: it records every address aiohttp was asked to connect to and refuses all but
127.0.0.1 before a packet is sent. `Receiver` is an HTTP/1.1 server on 127.0.0.1 (plain or
TLS with a certificate for a test name) that records each request's head and the SNI name
of each handshake, and answers from a script.
"""

from __future__ import annotations

import asyncio
import datetime
import errno
import socket
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
LOOPBACK = "127.0.0.1"


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
        turns = [item for item in answer if isinstance(item, list)]
        if turns:
            turn = sum(1 for name in self.lookups if name == host) - 1
            return turns[min(turn, len(turns) - 1)]
        return [item for item in answer if isinstance(item, str)]


@dataclass
class RecordingNetwork:
    """aiohttp's `socket_factory`: records (address, port) of every dial; only 127.0.0.1 gets
    a socket, any other address fails as unreachable before a packet leaves."""

    connects: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, addr_info: Any) -> socket.socket:
        family, kind, proto, _, address = addr_info
        self.connects.append((address[0], address[1]))
        if address[0] != LOOPBACK:
            raise OSError(errno.ENETUNREACH, "tests reach 127.0.0.1 only")
        return socket.socket(family, kind, proto)


@dataclass
class Receiver:
    """An HTTP/1.1 receiver on 127.0.0.1 in the test's event loop; `responses` are answered
    in order, then the last one forever; keep-alive unless a response says `close`."""

    responses: list[bytes] = field(default_factory=lambda: [NO_CONTENT])
    tls_name: str | None = None  # serve TLS with a certificate for this name
    heads: list[bytes] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    client_context: ssl.SSLContext | None = None  # trusts the certificate, for make_client
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        context = self._tls() if self.tls_name is not None else None
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, ssl=context)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    def headers(self, name: str) -> list[str]:
        """One header's value in each request received, in order."""
        prefix = name.lower().encode() + b":"
        return [
            line[len(prefix) :].strip().decode()
            for head in self.heads
            for line in head.split(b"\r\n")
            if line.lower().startswith(prefix)
        ]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.heads.append(head)
                self.arrived.set()
                length = _content_length(head)
                await reader.readexactly(length)
                response = self.responses[min(len(self.heads), len(self.responses)) - 1]
                writer.write(response)
                await writer.drain()
                if b"connection: close" in response.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def _tls(self) -> ssl.SSLContext:
        assert self.tls_name is not None
        cert, key = _certificate(self.tls_name)
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory() as folder:  # load_cert_chain reads files only
            (Path(folder) / "cert.pem").write_bytes(cert)
            (Path(folder) / "key.pem").write_bytes(key)
            server.load_cert_chain(Path(folder) / "cert.pem", Path(folder) / "key.pem")
        server.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self.client_context = ssl.create_default_context(cadata=cert.decode())
        return server


def _content_length(head: bytes) -> int:
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for `name` (PEM) and its key, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key
