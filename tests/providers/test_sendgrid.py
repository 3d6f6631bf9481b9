"""SendGrid quirks: ECDSA keys in DER or PEM, rotation, optional OAuth bearer, ms timestamps."""

from __future__ import annotations

import base64
import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import sendgrid
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import Case, cases

CASES = {case.name: case for case in cases("sendgrid")}
MESSAGE_ID = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
VECTOR_KEY = CASES["click"].source().public_keys[0]
NOW = datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)


def _pem(der_base64: str) -> str:
    key = serialization.load_der_public_key(base64.b64decode(der_base64))
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def test_appendix_vector_verifies_with_the_documented_key_alone() -> None:
    """The fixtures' test vector signature verifies against SendGrid's base64 DER key."""
    case = CASES["click"]
    source = replace(case.source(), public_keys=(VECTOR_KEY,))
    assert sendgrid.verify(case.request(), source).credential == "public_keys[0]"


def test_pem_public_key_is_accepted() -> None:
    """A key pasted as PEM verifies the same signature as its base64 DER form."""
    case = CASES["click"]
    source = replace(case.source(), public_keys=(_pem(VECTOR_KEY),))
    assert sendgrid.verify(case.request(), source).credential == "public_keys[0]"


def test_rotated_key_is_named_by_its_index() -> None:
    """With two keys configured, the label names the one that verified."""
    case = CASES["delivered"]
    assert sendgrid.verify(case.request(), case.source()).credential == "public_keys[1]"


def test_sign_round_trips_with_the_test_private_key() -> None:
    """`sign` with `options.test_private_key` yields headers that `verify` accepts."""
    case = CASES["batch"]
    headers = sendgrid.sign(case.body, case.source(), NOW)
    request = case.request(headers=headers, received_at=NOW)
    assert sendgrid.verify(request, case.source()).credential == "public_keys[1]"


def test_sign_without_private_key_is_not_implemented() -> None:
    """Only SendGrid holds the real private key, so signing without a test key is refused."""
    source = replace(CASES["click"].source(), options={})
    with pytest.raises(NotImplementedError):
        sendgrid.sign(b"[]", source, NOW)


def test_bearer_token_is_required_when_configured() -> None:
    """With OAuth enabled, a correctly signed request without the bearer token is refused."""
    case = CASES["click"]
    source = replace(case.source(), bearer_tokens=("sg-oauth-token",))
    with pytest.raises(SignatureError):
        sendgrid.verify(case.request(), source)
    headers = {**case.headers, "Authorization": "Bearer sg-oauth-token"}
    verified = sendgrid.verify(case.request(headers=headers), source)
    assert verified.credential == "public_keys[0]+bearer_tokens[0]"


def test_bearer_only_source_needs_no_signature() -> None:
    """A source configured with OAuth only is authenticated by the bearer token alone."""
    case = CASES["click"]
    source = replace(case.source(), public_keys=(), bearer_tokens=("a", "b"))
    request = case.request(headers={"Authorization": "Bearer b"})
    assert sendgrid.verify(request, source).credential == "bearer_tokens[1]"


def test_signature_dated_in_the_future_is_refused() -> None:
    """A timestamp more than the allowed skew ahead of our clock is treated as stale."""
    case = CASES["click"]
    with pytest.raises(SignatureError):
        sendgrid.verify(case.request(received_at=NOW - timedelta(hours=1)), case.source())


def test_check_source_fails_closed_and_validates_keys() -> None:
    """No credential, or a key that is not P-256, is reported under `public_keys`."""
    empty = replace(CASES["click"].source(), public_keys=(), options={})
    assert sendgrid.check_source(empty)[0].startswith("public_keys")
    broken = replace(empty, public_keys=("bm90IGEga2V5",))
    assert sendgrid.check_source(broken) == [
        "public_keys[0]: not a P-256 public key (base64 DER or PEM)"
    ]
    assert sendgrid.check_source(CASES["click"].source()) == []


def test_batch_handles_ms_timestamps_string_categories_and_custom_args() -> None:
    """A 13-digit timestamp is read as ms; a string category and custom args become metadata."""
    result = sendgrid.parse(CASES["batch"].request(), CASES["batch"].source())
    last = result.events[-1].event
    assert last.occurred_at == datetime(2025, 1, 1, 12, 0, 7, tzinfo=UTC)
    assert last.metadata == {"user_id": "u_9", "tags": ["single-category"]}
    assert last.message.campaign_id == "ss-9"
    assert result.rejected[0].index == 4
    assert result.ignored == ["open"]


def test_missing_sg_event_id_falls_back_to_a_stable_composite_key() -> None:
    """An event without `sg_event_id` still gets an id, the same on every parse."""
    item = {"event": "click", "email": "a@example.org", "timestamp": 1, "url": "https://x.test/"}
    request = CASES["click"].request(body=orjson.dumps([item]))
    first = sendgrid.parse(request, CASES["click"].source()).events[0].event
    again = sendgrid.parse(request, CASES["click"].source()).events[0].event
    assert first.provider_event_id.startswith("ck_")
    assert first.id == again.id


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sent",
            [
                Sent(
                    "dana@example.org",
                    MESSAGE_ID,
                    "8a2c4e6f-1b3d-4f5a-9c7e-0d2f4a6b8c1e",
                    "2025-01-01T11:59:45+00:00",
                )
            ],
        ),
        ("batch", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:59:40+00:00")]),
        ("delivered", []),
    ],
)
def test_processed_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """`processed` becomes email.sent with recipient, message and campaign; a delivery does not."""
    assert sent_events(sendgrid, CASES[name]) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _dumps(value: Any) -> bytes:
    """JSON as an ESP might send it, including integers beyond 64 bits and NaN."""
    return json.dumps(value).encode("utf-8")


_KEYS = ["event", "url", "timestamp", "sg_event_id", "email", "url_offset", "category", "ip"]
_ITEM = st.tuples(
    st.sampled_from(["click", "delivered", "processed", "open"]),
    st.dictionaries(st.sampled_from(_KEYS), _JSON),
).map(lambda pair: {"event": pair[0], **pair[1]})


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | _JSON.map(_dumps) | st.lists(_ITEM).map(_dumps))
def test_parse_raises_only_malformed_payload(body: bytes) -> None:
    """No body makes `parse` raise anything but MalformedPayload."""
    with contextlib.suppress(MalformedPayload):
        sendgrid.parse(CASES["click"].request(body=body), CASES["click"].source())


_HEADER_NAMES = st.sampled_from(
    [
        "x-twilio-email-event-webhook-signature",
        "x-twilio-email-event-webhook-timestamp",
        "authorization",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_HEADER_NAMES | st.text(max_size=10), st.text(max_size=120)))
def test_verify_raises_only_auth_errors(headers: dict[str, Any]) -> None:
    """Arbitrary headers make `verify` raise SignatureError or ForbiddenSource, nothing else."""
    case: Case = CASES["click"]
    source = replace(case.source(), bearer_tokens=("t",))
    with contextlib.suppress(SignatureError, ForbiddenSource):
        sendgrid.verify(case.request(headers=headers), source)
