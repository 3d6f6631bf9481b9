"""Mandrill quirks: the signature covers the exact registered URL and sorted form fields,
the URL-check ping is signed with a public key, and example events are test sends."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError, ForbiddenSource, MalformedPayload, SignatureError
from providers import mandrill
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases

CASES = {case.name: case for case in cases("mandrill")}
MESSAGE_ID = "9f3b2c1d0e8a4b7c6d5e4f3a2b1c0d9e"
CLICK = CASES["click"]
KEY = "mandrill_test_webhook_key"
URL = "https://hooks.example.net/esp/mandrill"
NOW = datetime(2025, 1, 1, 12, 1, tzinfo=UTC)


def _signature(key: str, signed: str) -> str:
    digest = hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_appendix_vector_reproduces() -> None:
    """The click fixture carries the fixtures' test vector signature."""
    assert CLICK.headers["X-Mandrill-Signature"] == "hfpyMLHT5DIlWaraH93a6Y0eSKo="
    assert mandrill.verify(CLICK.request(), CLICK.source()).credential == "signing_keys[0]"


@pytest.mark.parametrize(
    "registered",
    [
        "http://hooks.example.net/esp/mandrill",
        "https://hooks.example.net/esp/mandrill/",
        "https://hooks.example.net:443/esp/mandrill",
        "https://hooks.example.net/esp/mandrill?x=1",
    ],
)
def test_signature_covers_the_exact_registered_url(registered: str) -> None:
    """Scheme, trailing slash, port and query all change the signed URL."""
    with pytest.raises(SignatureError):
        mandrill.verify(CLICK.request(), replace(CLICK.source(), url=registered))


def test_request_url_is_used_only_when_no_url_is_configured() -> None:
    """Without `url`, the URL the request arrived on is what must have been signed."""
    source = replace(CLICK.source(), url=None)
    assert mandrill.verify(CLICK.request(), source).credential == "signing_keys[0]"
    elsewhere = replace(CLICK.request(), url="https://internal:8080/esp/mandrill")
    with pytest.raises(SignatureError):
        mandrill.verify(elsewhere, source)


def test_post_fields_are_signed_sorted_by_name() -> None:
    """Several fields are appended name + value in name order, whatever their wire order."""
    fields = [("zeta", "last"), ("mandrill_events", "[]"), ("alpha", "a b")]
    signed = URL + "alpha" + "a b" + "mandrill_events" + "[]" + "zeta" + "last"
    request = CLICK.request(
        body=urlencode(fields).encode(), headers={"X-Mandrill-Signature": _signature(KEY, signed)}
    )
    assert mandrill.verify(request, CLICK.source()).credential == "signing_keys[0]"


def test_url_check_ping_signed_with_the_public_key_is_acknowledged() -> None:
    """Mandrill's empty POST signed with `test-webhook` verifies and holds no events."""
    body = urlencode({"mandrill_events": "[]"}).encode()
    headers = {"X-Mandrill-Signature": _signature("test-webhook", URL + "mandrill_events[]")}
    request = CLICK.request(body=body, headers=headers)
    assert mandrill.verify(request, CLICK.source()).credential == "validation-ping"
    result = mandrill.parse(request, CLICK.source())
    assert (result.events, result.ignored, result.rejected) == ([], [], [])


def test_public_test_key_cannot_sign_real_events() -> None:
    """Anything but the empty ping signed with `test-webhook` is refused."""
    decoded = {"mandrill_events": '[{"event":"click","url":"https://x.test/","ts":1}]'}
    signed = URL + "mandrill_events" + decoded["mandrill_events"]
    request = CLICK.request(
        body=urlencode(decoded).encode(),
        headers={"X-Mandrill-Signature": _signature("test-webhook", signed)},
    )
    with pytest.raises(SignatureError):
        mandrill.verify(request, CLICK.source())


def test_example_events_of_the_send_test_batch_are_marked_test() -> None:
    """Only the event with Mandrill's example `_id` is flagged as a test send."""
    result = mandrill.parse(CASES["batch"].request(), CASES["batch"].source())
    assert [parsed.event.test for parsed in result.events] == [False, False, False, True]
    assert sorted(result.ignored) == ["blacklist", "open"]


def test_sign_needs_the_registered_url() -> None:
    """`sign` reproduces the fixture signature, and refuses to guess a missing URL."""
    assert mandrill.sign(CLICK.body, CLICK.source(), NOW) == {
        "X-Mandrill-Signature": "hfpyMLHT5DIlWaraH93a6Y0eSKo="
    }
    with pytest.raises(ConfigError):
        mandrill.sign(CLICK.body, replace(CLICK.source(), url=None), NOW)


def test_check_source_fails_closed() -> None:
    """A source without the webhook key is reported under `signing_keys`."""
    problems = mandrill.check_source(replace(CLICK.source(), signing_keys=()))
    assert problems[0].startswith("signing_keys")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sent", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:58:21+00:00")]),
        ("batch", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:58:20+00:00")]),
        ("delivered", []),
    ],
)
def test_send_event_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """A `send` event becomes email.sent with its recipient and message id; a delivery does not."""
    assert sent_events(mandrill, CASES[name]) == expected


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_KEYS = ["event", "type", "_id", "ts", "url", "ip", "user_agent", "msg"]
_EVENT = st.tuples(
    st.sampled_from(["click", "delivered", "send", "open"]),
    st.dictionaries(st.sampled_from(_KEYS), _JSON),
).map(lambda pair: {"event": pair[0], **pair[1]})


def _form(events: Any) -> bytes:
    return urlencode({"mandrill_events": json.dumps(events)}).encode()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | _JSON.map(_form) | st.lists(_EVENT).map(_form))
def test_parse_raises_only_malformed_payload(body: bytes) -> None:
    """No body makes `parse` raise anything but MalformedPayload."""
    with contextlib.suppress(MalformedPayload):
        mandrill.parse(CLICK.request(body=body), CLICK.source())


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["x-mandrill-signature"]) | st.text(max_size=8), st.text(max_size=40)
    ),
    st.binary(max_size=100),
)
def test_verify_raises_only_auth_errors(headers: dict[str, str], body: bytes) -> None:
    """Arbitrary headers and bodies make `verify` raise only our auth errors."""
    with contextlib.suppress(SignatureError, ForbiddenSource):
        mandrill.verify(CLICK.request(headers=headers, body=body), CLICK.source())
