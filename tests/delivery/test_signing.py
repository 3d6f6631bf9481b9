"""Outgoing Standard Webhooks headers verify with the reference `standardwebhooks` library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connector.delivery.signing import Signer
from tests.delivery.conftest import SECRET

PAYLOAD = '{"type":"email.clicked","recipient":{"email":"ada@example.com"},"note":"é"}'.encode()


def test_signature_verifies_with_the_reference_library() -> None:
    """The package's own `verify` accepts our headers over the exact bytes we send."""
    headers = Signer(SecretStr(SECRET)).headers("dlv_1", datetime.now(UTC), PAYLOAD)
    assert Webhook(SECRET).verify(PAYLOAD, headers) == {
        "type": "email.clicked",
        "recipient": {"email": "ada@example.com"},
        "note": "é",
    }


def test_tampered_body_or_other_secret_fails_verification() -> None:
    """A changed body, or a receiver holding another secret, rejects the signature."""
    headers = Signer(SecretStr(SECRET)).headers("dlv_1", datetime.now(UTC), PAYLOAD)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(PAYLOAD.replace(b"ada", b"eve"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(PAYLOAD, headers)


def test_id_is_stable_and_timestamp_is_the_attempt_time() -> None:
    """Retries keep `webhook-id` and carry their own `webhook-timestamp` (epoch seconds)."""
    signer = Signer(SecretStr(SECRET))
    first = datetime(2025, 3, 1, 12, 0, 0, 900_000, tzinfo=UTC)
    retry = first + timedelta(minutes=7)
    a, b = signer.headers("dlv_9", first, PAYLOAD), signer.headers("dlv_9", retry, PAYLOAD)
    assert a["webhook-id"] == b["webhook-id"] == "dlv_9"
    assert a["webhook-timestamp"] == str(int(first.timestamp()))
    assert int(b["webhook-timestamp"]) - int(a["webhook-timestamp"]) == 420
    assert a["webhook-signature"] != b["webhook-signature"]
    assert a["webhook-signature"].startswith("v1,")


def test_non_utc_attempt_times_sign_the_same_instant() -> None:
    """An aware non-UTC time signs the same instant as its UTC equivalent."""
    signer = Signer(SecretStr(SECRET))
    utc = datetime.now(UTC)
    paris = utc.astimezone(timezone(timedelta(hours=2)))
    assert signer.headers("d", paris, PAYLOAD) == signer.headers("d", utc, PAYLOAD)
    Webhook(SECRET).verify(PAYLOAD, signer.headers("d", paris, PAYLOAD))
