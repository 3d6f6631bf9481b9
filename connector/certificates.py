"""Signing certificates for providers that verify with a certificate at a URL (Amazon SNS).

Provider `verify` functions are pure, so the webhook path asks the provider for the
certificate URL (`amazon_ses.certificate_url`), gets the PEM here, and passes it in
`source.options["certificates"]`. A certificate is fetched once per URL and kept in a small
in-memory LRU; air-gapped deployments list PEM files in a source's
`options.certificate_files` instead, matched to a URL by its last path segment (the file name
`SimpleNotificationService-<hash>.pem`), and those are never fetched.

The URL is validated again here (https, `sns.<region>.amazonaws.com[.cn]`, one `.pem` path
segment) so this module can never be pointed at another host. Fetches have a short timeout, a
size cap, no redirects, and must parse as an X.509 PEM certificate. A transient failure
(timeout, connection error, 5xx) raises `CertificateUnavailable` (503) so SNS retries; a
permanent one (4xx, not a certificate, too big) returns nothing and `verify` answers 401.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import anyio
import httpx
from cryptography import x509

from connector.errors import ConfigError, ConnectorError, SignatureError
from providers.amazon_ses import signing_cert_url
from providers.base import Source

MAX_BYTES = 32 * 1024  # an AWS SNS certificate PEM is about 2 KB
TIMEOUT = 5.0  # seconds; SNS gives us 15 s for the whole request
MAX_ENTRIES = 32


class CertificateUnavailable(ConnectorError):
    """The signing certificate could not be fetched right now; the ESP should retry."""

    status_code = 503
    reason = "certificate_unavailable"


class CertificateCache:
    """Certificates by URL: pre-loaded from files, else fetched once and kept (bounded LRU)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        files: Iterable[str | Path] = (),
        max_entries: int = MAX_ENTRIES,
        timeout: float = TIMEOUT,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self._client = client
        self._files = _load_files(files)
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}
        self._max_entries = max_entries
        self._timeout = timeout
        self._max_bytes = max_bytes

    @classmethod
    def for_sources(cls, client: httpx.AsyncClient, sources: Iterable[Source]) -> CertificateCache:
        """A cache pre-loaded with every source's `options.certificate_files`."""
        files = [path for source in sources for path in source.options.get("certificate_files", [])]
        return cls(client, files=files)

    async def certificates_for(self, url: str) -> dict[str, str]:
        """`{url: pem}` for a valid SNS certificate URL, or `{}` when there is none to be had."""
        try:
            url = signing_cert_url(url)
        except SignatureError:
            return {}
        pem = self._files.get(PurePosixPath(urlsplit(url).path).name) or self._cached(url)
        if pem is None:
            lock = self._locks.setdefault(url, anyio.Lock())
            try:
                async with lock:  # concurrent requests for a new certificate fetch it once
                    pem = self._cached(url) or await self._fetch(url)
            finally:
                self._locks.pop(url, None)
        return {} if pem is None else {url: pem}

    def _cached(self, url: str) -> str | None:
        pem = self._cache.get(url)
        if pem is not None:
            self._cache.move_to_end(url)
        return pem

    async def _fetch(self, url: str) -> str | None:
        try:
            body = await self._download(url)
        except (httpx.TimeoutException, httpx.TransportError):
            raise CertificateUnavailable("signing certificate could not be fetched") from None
        if body is None or not _is_certificate(body):
            return None
        pem = body.decode("ascii")
        self._cache[url] = pem
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return pem

    async def _download(self, url: str) -> bytes | None:
        request = self._client.build_request("GET", url, timeout=self._timeout)
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code >= 500:
                raise CertificateUnavailable("certificate host answered with a server error")
            if response.status_code != 200:
                return None
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self._max_bytes:
                    return None
            return body
        finally:
            await response.aclose()


def _is_certificate(body: bytes) -> bool:
    try:
        x509.load_pem_x509_certificate(body)
        body.decode("ascii")
    except ValueError:  # includes UnicodeDecodeError
        return False
    return True


def _load_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """File name -> PEM text; a file that is not a certificate stops start-up."""
    found: dict[str, str] = {}
    for path in map(Path, paths):
        try:
            body = path.read_bytes()
        except OSError as error:
            raise ConfigError(
                [f"certificate_files: cannot read {path}: {error.strerror}"]
            ) from None
        if not _is_certificate(body):
            raise ConfigError([f"certificate_files: {path} is not a PEM X.509 certificate"])
        found[path.name] = body.decode("ascii")
    return found
