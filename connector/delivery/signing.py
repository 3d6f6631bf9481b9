"""Standard Webhooks signatures on outgoing requests, so receivers can verify us with any
Standard Webhooks library: https://www.standardwebhooks.com/

`webhook-id` is the delivery id, stable across retries, which is what lets the receiver
de-duplicate a retry of a request it already processed; `webhook-timestamp` is the time of
this attempt, because receivers reject timestamps older than a few minutes (the reference
library's tolerance is 5 minutes).

The signature is the scheme's `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")),
computed over the body's bytes (the reference library's `Webhook.sign` takes a `str` only,
so every attempt decoded the ~1.5 KB body and the library encoded it again) with the
action's `HmacKey` (connector/hmac_key.py: the key's padded states, made once per action).
tests/delivery/test_signing.py verifies what we send with the library's `verify`.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime
from math import floor

from pydantic import SecretStr

from connector.delivery.settings import secret_key
from connector.hmac_key import HmacKey


class Signer:
    """Signs payloads with one action's secret; build once per action, not per request."""

    def __init__(self, secret: SecretStr) -> None:
        # The decoded key: the library's own str parsing silently drops bad base64.
        self._hmac = HmacKey(secret_key(secret))

    def headers(self, msg_id: str, timestamp: datetime, payload: bytes) -> dict[str, str]:
        """The three `webhook-*` headers for one attempt."""
        # A naive time is taken as UTC, as the library's `replace(tzinfo=utc)` does.
        utc = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        stamp = str(floor(utc.timestamp()))
        signed = self._hmac.digest(f"{msg_id}.{stamp}.".encode(), payload)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": stamp,
            "webhook-signature": "v1," + binascii.b2a_base64(signed, newline=False).decode(),
        }
