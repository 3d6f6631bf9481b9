"""Outgoing Standard Webhooks headers verify with the reference `standardwebhooks` library."""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connector.delivery.signing import Signer
from connector.hmac_key import HmacKey
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


@given(
    key=st.binary(min_size=1, max_size=200),
    msg_id=st.text(max_size=40),
    payload=st.binary(max_size=3000),
)
def test_signature_is_hmac_sha256_of_id_timestamp_and_body(
    key: bytes, msg_id: str, payload: bytes
) -> None:
    """The padded-state HMAC equals `hmac`'s, for keys shorter and longer than the block."""
    secret = SecretStr("whsec_" + base64.b64encode(key).decode())
    when = datetime(2026, 12, 4, 0, 0, 1, tzinfo=UTC)
    signer = Signer.__new__(Signer)
    signer._hmac = HmacKey(key)  # any length, unlike a secret
    expected = hmac.digest(key, f"{msg_id}.{int(when.timestamp())}.".encode() + payload, "sha256")
    signature = signer.headers(msg_id, when, payload)["webhook-signature"]
    assert signature == "v1," + base64.b64encode(expected).decode()
    if 24 <= len(key) <= 64:  # a key a secret may hold: the same through the constructor
        assert Signer(secret).headers(msg_id, when, payload)["webhook-signature"] == signature
