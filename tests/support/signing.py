"""Signs Customer.io bodies the way Customer.io does, for tests that post over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import time

from tests.support.config import CIO_KEY


def cio_headers(body: bytes, key: str = CIO_KEY, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "content-type": "application/json",
        "x-cio-timestamp": stamp,
        "x-cio-signature": signature.hexdigest(),
    }
