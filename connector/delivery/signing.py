"""Standard Webhooks signatures on outgoing requests, so receivers can verify us with any
Standard Webhooks library: https://www.standardwebhooks.com/

`webhook-id` is the delivery id, stable across retries, which is what lets the receiver
de-duplicate a retry of a request it already processed; `webhook-timestamp` is the time of
this attempt, because receivers reject timestamps older than a few minutes (the reference
library's tolerance is 5 minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import floor

from pydantic import SecretStr
from standardwebhooks import Webhook

from connector.delivery.settings import secret_key


class Signer:
    """Signs payloads with one action's secret; build once per action, not per request."""

    def __init__(self, secret: SecretStr) -> None:
        # Pass the decoded key: the library's own str parsing silently drops bad base64.
        self._webhook = Webhook(secret_key(secret))

    def headers(self, msg_id: str, timestamp: datetime, payload: bytes) -> dict[str, str]:
        """The three `webhook-*` headers for one attempt."""
        # The library calls `replace(tzinfo=utc)`, which is only right for a UTC datetime.
        utc = timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
        signature = self._webhook.sign(msg_id, utc, payload.decode())
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(floor(utc.timestamp())),
            "webhook-signature": signature,
        }
