"""Postmark quirks: no signature (basic auth, bearer or a custom header), IP allow-list,
composite event ids and 7-digit ISO timestamps."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import postmark
from schemas import EmailClicked, composite_key
from tests.support.fixtures import cases

CASES = {case.name: case for case in cases("postmark")}
CLICK = CASES["click"]
NOW = datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)


def test_ip_allow_list_refuses_other_callers_with_403() -> None:
    """With `allowed_ips`, a caller outside the list is ForbiddenSource even with good auth."""
    source = replace(CLICK.source(), allowed_ips=("3.134.147.0/24",))
    assert postmark.verify(CLICK.request(), source).credential == "basic_auth[0]"
    outsider = replace(CLICK.request(), client_ip="203.0.113.9")
    with pytest.raises(ForbiddenSource):
        postmark.verify(outsider, source)


def test_bearer_token_in_authorization_header_is_accepted() -> None:
    """A custom `Authorization: Bearer` header set through HttpHeaders authenticates."""
    source = replace(CLICK.source(), basic_auth=(), bearer_tokens=("old", "pm-token"))
    request = CLICK.request(headers={"Authorization": "Bearer pm-token"})
    assert postmark.verify(request, source).credential == "bearer_tokens[1]"


def test_custom_token_header_is_accepted_alongside_basic_auth() -> None:
    """`options.token_header` names a custom header that carries one of the tokens."""
    source = replace(
        CLICK.source(), bearer_tokens=("pm-token",), options={"token_header": "X-Webhook-Secret"}
    )
    request = CLICK.request(headers={"X-Webhook-Secret": "pm-token"})
    assert postmark.verify(request, source).credential == "bearer_tokens[0]"
    assert postmark.verify(CLICK.request(), source).credential == "basic_auth[0]"
    with pytest.raises(SignatureError):
        postmark.verify(CLICK.request(headers={"X-Webhook-Secret": "wrong"}), source)


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({}, "basic_auth[0]"),
        ({"basic_auth": (), "bearer_tokens": ("t",)}, "bearer_tokens[0]"),
        (
            {"basic_auth": (), "bearer_tokens": ("t",), "options": {"token_header": "X-S"}},
            "bearer_tokens[0]",
        ),
    ],
)
def test_sign_produces_the_header_postmark_would_send(changes: dict[str, Any], label: str) -> None:
    """`sign` returns the configured credential in the header `verify` checks."""
    source = replace(CLICK.source(), **changes)
    headers = postmark.sign(CLICK.body, source, NOW)
    assert postmark.verify(CLICK.request(headers=headers), source).credential == label


def test_check_source_fails_closed() -> None:
    """No credential, a malformed pair, a bad network or a header without tokens is reported."""
    assert postmark.check_source(replace(CLICK.source(), basic_auth=()))[0].startswith("basic_auth")
    bad = replace(CLICK.source(), basic_auth=("nocolon",), allowed_ips=("not-an-ip",))
    assert [problem.split(":")[0] for problem in postmark.check_source(bad)] == [
        "basic_auth",
        "allowed_ips",
    ]
    header_only = replace(CLICK.source(), options={"token_header": "X-S"})
    assert postmark.check_source(header_only)[0].startswith("bearer_tokens")
    assert postmark.check_source(CLICK.source()) == []


def test_click_id_is_a_composite_of_message_recipient_link_and_time() -> None:
    """Postmark sends no event id, so the id is built from the identifying fields as sent."""
    event = postmark.parse(CLICK.request(), CLICK.source()).events[0].event
    expected = composite_key(
        "0d7f3a52-9b1e-4c6a-8f2d-5e4b3a2c1d0f",
        "dana@example.org",
        "https://shop.example.org/spring",
        "2025-01-01T12:00:00.5123456Z",
    )
    assert event.provider_event_id == expected
    other = json.loads(CLICK.body) | {"OriginalLink": "https://shop.example.org/other"}
    second = postmark.parse(CLICK.request(body=json.dumps(other).encode()), CLICK.source())
    assert second.events[0].event.id != event.id


def test_click_without_original_link_is_rejected_not_an_error() -> None:
    """A Click record missing `OriginalLink` becomes a Rejection; the request is still read."""
    item = json.loads(CLICK.body)
    del item["OriginalLink"]
    result = postmark.parse(CLICK.request(body=json.dumps(item).encode()), CLICK.source())
    assert result.events == []
    assert result.rejected[0].reason == "Click record has no OriginalLink"


def test_click_reads_geo_ip_and_tag() -> None:
    """The clicker's IP comes from `Geo.IP` and the single `Tag` becomes a one-item list."""
    event = postmark.parse(CLICK.request(), CLICK.source()).events[0].event
    assert isinstance(event, EmailClicked)
    assert event.client.ip == "198.51.100.23"
    assert event.metadata["tags"] == ["spring-promo"]


@pytest.mark.parametrize(
    "record_type", ["Delivery", "Bounce", "SpamComplaint", "Open", "Click", "SubscriptionChange"]
)
def test_no_record_type_becomes_email_sent(record_type: str) -> None:
    """Postmark has no trigger for an accepted, undelivered message: nothing is email.sent."""
    body = json.loads(CASES["delivered"].body) | {"RecordType": record_type}
    result = postmark.parse(
        CASES["delivered"].request(body=json.dumps(body).encode()), CLICK.source()
    )
    assert all(parsed.event.type != "email.sent" for parsed in result.events)
    assert len(result.events) + len(result.ignored) + len(result.rejected) == 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_KEYS = [
    "MessageID",
    "Recipient",
    "OriginalLink",
    "ReceivedAt",
    "DeliveredAt",
    "Tag",
    "Metadata",
    "Geo",
]
_RECORD = st.tuples(
    st.sampled_from(["Click", "Delivery", "Open"]), st.dictionaries(st.sampled_from(_KEYS), _JSON)
).map(lambda pair: {"RecordType": pair[0], **pair[1]})


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | _JSON.map(_dumps) | _RECORD.map(_dumps))
def test_parse_raises_only_malformed_payload(body: bytes) -> None:
    """No body makes `parse` raise anything but MalformedPayload."""
    with contextlib.suppress(MalformedPayload):
        postmark.parse(CLICK.request(body=body), CLICK.source())


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["authorization", "x-s"]) | st.text(max_size=8), st.text(max_size=60)
    ),
    st.none() | st.text(max_size=20),
)
def test_verify_raises_only_auth_errors(headers: dict[str, str], client_ip: str | None) -> None:
    """Arbitrary headers and caller addresses make `verify` raise only our auth errors."""
    source = replace(
        CLICK.source(),
        bearer_tokens=("t",),
        allowed_ips=("0.0.0.0/0", "::/0"),
        options={"token_header": "X-S"},
    )
    request = replace(CLICK.request(headers=headers), client_ip=client_ip)
    with contextlib.suppress(SignatureError, ForbiddenSource):
        postmark.verify(request, source)
