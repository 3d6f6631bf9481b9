"""Resend / Svix quirks: header spellings, signature lists, rotation, the 5-minute window."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import resend
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("resend")}
EMAIL_ID = "3f0c6c2e-8a51-4a8e-9f0d-2b7c1e4d5a60"
CLICK = CASES["click"]
SIGNED_AT = datetime.fromtimestamp(1735732801, UTC)
VECTOR = "v1,GXuaACanJrgIBeDiQ9J6fkC2ZcEr2JLEKkPP6Oj4euY="
JSON = json_values(8)
DATA_KEYS = ["to", "email_id", "broadcast_id", "subject", "tags", "click", "template_id"]
EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["email.clicked", "email.delivered", "email.sent", "email.opened"]),
        "data": st.dictionaries(st.sampled_from(DATA_KEYS), JSON)
        | st.fixed_dictionaries(
            {"click": st.dictionaries(st.sampled_from(["link", "timestamp"]), JSON)}
        ),
    },
    optional={"created_at": JSON},
)


def _headers(**changes: str) -> dict[str, str]:
    return {**CLICK.headers, **changes}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sent",
            [
                Sent(
                    "dana@example.org",
                    EMAIL_ID,
                    "b8c1d2e3-0f4a-4b5c-8d6e-7f8a9b0c1d2e",
                    "2025-01-01T11:58:40.311000+00:00",
                )
            ],
        ),
        ("delivered", []),
    ],
)
def test_email_sent_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """`email.sent` keeps its recipient, email id and broadcast id; a delivery is not a send."""
    assert sent_events(resend, CASES[name]) == expected


def test_reference_library_produces_the_appendix_vector() -> None:
    """`standardwebhooks` signs the fixture to the fixtures' test vector we verify."""
    secret = CLICK.source().signing_keys[0]
    signature = Webhook(secret).sign(CLICK.headers["svix-id"], SIGNED_AT, CLICK.body.decode())
    assert signature == VECTOR == CLICK.headers["svix-signature"]


def test_standard_webhooks_header_names_are_accepted() -> None:
    """Generic senders use webhook-id / webhook-timestamp / webhook-signature."""
    headers = {name.replace("svix-", "webhook-"): value for name, value in CLICK.headers.items()}
    assert "svix-id" not in headers
    assert resend.verify(CLICK.request(headers=headers), CLICK.source()).credential


def test_any_v1_entry_of_the_signature_list_may_match() -> None:
    """Svix sends several space-separated signatures while rotating; junk and v1a are skipped."""
    listed = f"v1a,AAAA v1,bm90LWl0 v1,%%% {VECTOR}"
    result = resend.verify(
        CLICK.request(headers=_headers(**{"svix-signature": listed})), CLICK.source()
    )
    assert result.credential == "signing_keys[0]"


def test_signature_without_v1_entries_is_refused() -> None:
    """Only v1 (HMAC-SHA256) entries count; a header with none is a signature error."""
    with pytest.raises(SignatureError):
        resend.verify(
            CLICK.request(headers=_headers(**{"svix-signature": "v1a,AAAA"})), CLICK.source()
        )


def test_rotated_secret_names_the_matching_key() -> None:
    """With an older and the current secret configured, the label names the one that matched."""
    other = "whsec_" + "b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmdlci4="
    source = replace(CLICK.source(), signing_keys=(other, *CLICK.source().signing_keys))
    assert resend.verify(CLICK.request(), source).credential == "signing_keys[1]"


@pytest.mark.parametrize(
    ("offset", "accepted"), [(299, True), (-299, True), (301, False), (-301, False)]
)
def test_timestamps_more_than_five_minutes_off_are_refused(offset: int, accepted: bool) -> None:
    """The reference libraries' 5-minute window applies both ways, judged at `received_at`."""
    request = CLICK.request(received_at=SIGNED_AT + timedelta(seconds=offset))
    if accepted:
        assert resend.verify(request, CLICK.source()).credential == "signing_keys[0]"
        return
    with pytest.raises(SignatureError) as error:
        resend.verify(request, CLICK.source())
    assert error.value.reason == "stale"


def test_tolerance_can_be_widened_per_source() -> None:
    """`timestamp_tolerance` overrides the 5-minute default."""
    request = CLICK.request(received_at=SIGNED_AT + timedelta(hours=1))
    assert resend.verify(request, replace(CLICK.source(), timestamp_tolerance=7200)).credential


def test_allowed_ips_are_enforced() -> None:
    """Resend publishes its source IPs; a configured allow-list refuses other callers."""
    with pytest.raises(ForbiddenSource):
        resend.verify(CLICK.request(), replace(CLICK.source(), allowed_ips=("10.0.0.0/8",)))


def test_non_utf8_body_is_a_signature_error() -> None:
    """Svix signs text; bytes that are not UTF-8 cannot carry a valid signature."""
    with pytest.raises(SignatureError):
        resend.verify(CLICK.request(body=b"\xff" + CLICK.body), CLICK.source())


def test_sign_round_trips_through_verify() -> None:
    """`sign` makes any body verify at the time it was signed."""
    now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    headers = resend.sign(CLICK.body, CLICK.source(), now)
    assert resend.verify(CLICK.request(headers=headers, received_at=now), CLICK.source()).credential


def test_svix_id_is_the_event_id() -> None:
    """A retry (same svix-id) keeps the event id; another message id gives another event."""
    first = resend.parse(CLICK.request(), CLICK.source()).events[0].event
    again = resend.parse(CLICK.request(headers=_headers()), CLICK.source()).events[0].event
    other = resend.parse(CLICK.request(headers=_headers(**{"svix-id": "msg_x"})), CLICK.source())
    assert first.id == again.id != other.events[0].event.id
    assert first.provider_event_id == CLICK.headers["svix-id"]


def test_check_source_refuses_missing_or_empty_secrets() -> None:
    """No secret, or a whsec_ prefix with nothing after it, fails closed at start-up."""
    assert resend.check_source(replace(CLICK.source(), signing_keys=()))[0].startswith(
        "signing_keys"
    )
    assert resend.check_source(replace(CLICK.source(), signing_keys=("whsec_",)))
    assert resend.check_source(CLICK.source()) == []


@settings(max_examples=100, derandomize=True, database=None)
@given(
    body=st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | EVENTS.map(lambda v: json.dumps(v).encode())
)
def test_parse_of_arbitrary_bodies_raises_only_malformed(body: bytes) -> None:
    """Any bytes, JSON or event-shaped object into `parse` give a result or MalformedPayload."""
    try:
        result = resend.parse(CLICK.request(body=body), CLICK.source())
    except MalformedPayload:
        return
    assert len(result.events) + len(result.ignored) + len(result.rejected) == 1


_NAMES = st.sampled_from(["svix-id", "svix-timestamp", "svix-signature", "webhook-signature"])


@settings(max_examples=100, derandomize=True, database=None)
@given(headers=st.dictionaries(_NAMES | st.text(max_size=10), st.text(max_size=60)))
def test_verify_of_arbitrary_headers_raises_only_auth_errors(headers: dict[str, Any]) -> None:
    """Any headers into `verify` give a label or SignatureError, nothing else."""
    try:
        verified = resend.verify(CLICK.request(headers=headers), CLICK.source())
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential == "signing_keys[0]"
