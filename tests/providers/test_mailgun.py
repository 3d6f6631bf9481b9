"""Mailgun quirks: the body is unsigned (nonce + digest), parent signatures, legacy forms."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import mailgun
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases

CASES = {case.name: case for case in cases("mailgun")}
MESSAGE_ID = "20250101115840.1.ABCDEF@mg.shop.example.org"
KEY = "mg_test_webhook_signing_key"
SIGNED_AT = datetime(2025, 1, 1, 12, 0, 1, tzinfo=UTC)


def _hmac(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def _body(signature: dict[str, Any], event_data: dict[str, Any]) -> bytes:
    return json.dumps({"signature": signature, "event-data": event_data}).encode()


def test_verify_returns_token_as_nonce_with_the_body_digest() -> None:
    """The store gets the token and a digest of the exact body, since the body is unsigned."""
    case = CASES["click"]
    verified = mailgun.verify(case.request(), case.source())
    assert verified.nonce == "4f1c7d0e9a2b6c3d8e5f0a1b2c7d4e9f6a3b8c5d0e1f2a7b4c"
    assert verified.body_digest == hashlib.sha256(case.body).hexdigest()


def test_forged_event_data_keeps_the_nonce_but_changes_the_digest() -> None:
    """A replayed signature block on other event-data verifies, but its digest differs."""
    case = CASES["click"]
    forged = case.body.replace(b"https://shop.example.org/spring", b"https://evil.example/")
    verified = mailgun.verify(case.request(body=forged), case.source())
    original = mailgun.verify(case.request(), case.source())
    assert verified.nonce == original.nonce
    assert verified.body_digest != original.body_digest


def test_parent_signature_of_a_subaccount_event_verifies() -> None:
    """A subaccount event verifies through `parent-signature` under the primary key."""
    token = "t" * 50
    block = {
        "token": token,
        "timestamp": "1735732801",
        "signature": _hmac("subaccount-key", "1735732801", token),
        "parent-signature": _hmac(KEY, "1735732801", token),
    }
    body = _body(block, {"event": "opened"})
    verified = mailgun.verify(CASES["click"].request(body=body), CASES["click"].source())
    assert verified.credential == "signing_keys[0]"


def test_integer_timestamp_in_signature_block_verifies() -> None:
    """Mailgun documents `timestamp` as an int; a JSON number is signed as its digits."""
    token = "u" * 50
    block = {"token": token, "timestamp": 1735732801, "signature": _hmac(KEY, "1735732801", token)}
    body = _body(block, {"event": "opened"})
    assert mailgun.verify(CASES["click"].request(body=body), CASES["click"].source()).nonce == token


def test_default_window_covers_mailgun_retries_but_not_more() -> None:
    """Eight hours after signing is accepted (Mailgun retries that long); ten is refused."""
    case = CASES["click"]
    mailgun.verify(case.request(received_at=SIGNED_AT + timedelta(hours=8)), case.source())
    with pytest.raises(SignatureError):
        mailgun.verify(case.request(received_at=SIGNED_AT + timedelta(hours=10)), case.source())
    tight = replace(case.source(), timestamp_tolerance=60)
    with pytest.raises(SignatureError):
        mailgun.verify(case.request(received_at=SIGNED_AT + timedelta(minutes=5)), tight)


def test_legacy_form_uses_mailguns_own_signature_fields() -> None:
    """In a legacy form a user variable named `token` comes first; Mailgun's own comes last."""
    token = "v" * 50
    fields = [
        ("event", "clicked"),
        ("token", "user-variable-value"),
        ("recipient", "dana@example.org"),
        ("url", "https://shop.example.org/"),
        ("timestamp", "1735732801"),
        ("token", token),
        ("signature", _hmac(KEY, "1735732801", token)),
    ]
    request = CASES["legacy-click"].request(body=urlencode(fields).encode())
    assert mailgun.verify(request, CASES["legacy-click"].source()).nonce == token
    event = mailgun.parse(request, CASES["legacy-click"].source()).events[0].event
    assert event.metadata == {}
    assert event.link.url == "https://shop.example.org/"


def test_multipart_legacy_post_is_refused() -> None:
    """Multipart legacy posts are not read: no signature found, and malformed for `parse`."""
    headers = {"Content-Type": "multipart/form-data; boundary=x"}
    body = b'--x\r\nContent-Disposition: form-data; name="event"\r\n\r\nbounced\r\n--x--\r\n'
    request = CASES["click"].request(body=body, headers=headers)
    with pytest.raises(SignatureError):
        mailgun.verify(request, CASES["click"].source())
    with pytest.raises(MalformedPayload):
        mailgun.parse(request, CASES["click"].source())


def test_test_mode_messages_are_marked_test() -> None:
    """Events of messages sent with `o:testmode` (`flags.is-test-mode`) are marked test."""
    data = json.loads(CASES["delivered"].body)
    data["event-data"]["flags"]["is-test-mode"] = True
    request = CASES["delivered"].request(body=json.dumps(data).encode())
    assert mailgun.parse(request, CASES["delivered"].source()).events[0].event.test is True


def test_sign_returns_no_headers() -> None:
    """The signature lives in the body, so there is nothing to add as a header."""
    assert mailgun.sign(CASES["click"].body, CASES["click"].source(), SIGNED_AT) == {}


def test_check_source_fails_closed() -> None:
    """A source without a signing key is reported under `signing_keys`."""
    problems = mailgun.check_source(replace(CASES["click"].source(), signing_keys=()))
    assert problems[0].startswith("signing_keys")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sent", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:58:40.654321+00:00")]),
        ("delivered", []),
    ],
)
def test_accepted_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """`accepted` becomes email.sent with its recipient and Message-ID; a delivery does not."""
    assert sent_events(mailgun, CASES[name]) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_DATA_KEYS = ["event", "id", "timestamp", "recipient", "url", "tags", "user-variables", "flags"]
_EVENT_DATA = st.dictionaries(st.sampled_from(_DATA_KEYS), _JSON).map(
    lambda data: {"event": "clicked", **data}
)
_FORM = st.lists(
    st.tuples(st.sampled_from(["event", "url", "timestamp", "tag", "x"]), st.text(max_size=20))
).map(lambda fields: urlencode(fields).encode())


_SIGNATURE = st.dictionaries(
    st.sampled_from(["token", "timestamp", "signature", "parent-signature"]),
    _JSON | st.text(alphabet="0123456789abcdef", max_size=64),
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=200)
    | _JSON.map(_dumps)
    | st.builds(
        lambda sig, data: _dumps({"signature": sig, "event-data": data}), _JSON, _EVENT_DATA
    )
    | _FORM
)
def test_parse_raises_only_malformed_payload(body: bytes) -> None:
    """No body makes `parse` raise anything but MalformedPayload."""
    with contextlib.suppress(MalformedPayload):
        mailgun.parse(CASES["click"].request(body=body, headers={}), CASES["click"].source())


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["content-type", "authorization"]), st.text(max_size=60)),
    st.binary(max_size=120) | _SIGNATURE.map(lambda sig: _dumps({"signature": sig})) | _FORM,
)
def test_verify_raises_only_auth_errors(headers: dict[str, str], body: bytes) -> None:
    """Arbitrary headers and signature blocks make `verify` raise only our auth errors."""
    request = CASES["click"].request(body=body, headers=headers)
    with contextlib.suppress(SignatureError, ForbiddenSource):
        mailgun.verify(request, CASES["click"].source())
