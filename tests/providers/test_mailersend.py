"""MailerSend quirks: escaped slashes, v1/v2 shapes, clicked vs clicked_unique, opt-in window."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import mailersend
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("mailersend")}
CLICK, CLICK_V2, UNIQUE = CASES["click"], CASES["click-v2"], CASES["clicked-unique"]
JSON = json_values(8)
DATA_KEYS = ["id", "created_at", "email", "morph", "meta", "recipient", "message_id", "tags"]
EVENTS = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["activity.clicked", "activity.delivered", "activity.sent", "webhook.test"]
        ),
        "data": st.dictionaries(st.sampled_from(DATA_KEYS), JSON) | JSON,
    },
    optional={"created_at": JSON},
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sent",
            [
                Sent(
                    "dana@example.org",
                    "6774e8b0f1e2d3c4b5a69788",
                    None,
                    "2025-01-01T11:58:41+00:00",
                )
            ],
        ),
        ("delivered", []),
    ],
)
def test_activity_sent_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """`activity.sent` becomes email.sent with its recipient and message id; a delivery does not."""
    assert sent_events(mailersend, CASES[name]) == expected


def test_signature_covers_the_escaped_bytes_not_the_json() -> None:
    """Re-serialising the body drops MailerSend's `\\/` escapes, so its signature no longer fits."""
    assert b"\\/" in CLICK_V2.body
    reserialised = json.dumps(json.loads(CLICK_V2.body), separators=(",", ":")).encode()
    assert mailersend.verify(CLICK_V2.request(), CLICK_V2.source()).credential
    with pytest.raises(SignatureError):
        mailersend.verify(CLICK_V2.request(body=reserialised), CLICK_V2.source())


def test_escaped_slashes_are_unescaped_in_the_url() -> None:
    """`https:\\/\\/...` on the wire is an ordinary URL in the event."""
    event = mailersend.parse(CLICK_V2.request(), CLICK_V2.source()).events[0].event
    assert event.type == "email.clicked"
    assert event.link.url == "https://shop.example.org/spring?utm_source=ms"


@pytest.mark.parametrize(
    ("option", "name", "clicks", "unique"),
    [
        (None, "click-v2", 1, None),
        (None, "clicked-unique", 1, True),
        ("both", "click-v2", 1, None),
        ("both", "clicked-unique", 1, True),
        ("activity.clicked", "click-v2", 1, None),
        ("activity.clicked", "clicked-unique", 0, None),
        ("activity.clicked_unique", "click-v2", 0, None),
        ("activity.clicked_unique", "clicked-unique", 1, True),
    ],
)
def test_clicked_unique_is_a_marked_click_unless_turned_off(
    option: str | None, name: str, clicks: int, unique: bool | None
) -> None:
    """By default activity.clicked_unique is a click marked metadata.unique_click; click_event
    = activity.clicked turns it off (acknowledged as ignored), clicked_unique keeps only it."""
    case = CASES[name]
    options = {} if option is None else {"click_event": option}
    result = mailersend.parse(case.request(), replace(case.source(), options=options))
    assert [parsed.event.type for parsed in result.events] == ["email.clicked"] * clicks
    assert len(result.ignored) == 1 - clicks
    for parsed in result.events:
        assert parsed.event.metadata.get("unique_click") is unique


@pytest.mark.parametrize("option", [None, "both", *mailersend.CLICK_EVENTS])
def test_one_click_never_stores_two_events(option: str | None) -> None:
    """The clicked and clicked_unique webhooks of one click share data.id: one event id."""
    options = {} if option is None else {"click_event": option}
    source = replace(CLICK_V2.source(), options=options)
    both = [mailersend.parse(c.request(), source) for c in (CLICK_V2, UNIQUE)]
    assert len({parsed.event.id for result in both for parsed in result.events}) == 1


def test_check_source_validates_the_click_event_option() -> None:
    """An unknown click_event value and a missing secret are configuration problems."""
    bad = replace(CLICK.source(), options={"click_event": "activity.opened"})
    assert mailersend.check_source(bad)[0].startswith("options.click_event")
    assert mailersend.check_source(replace(CLICK.source(), signing_keys=()))[0].startswith(
        "signing_keys"
    )
    assert mailersend.check_source(CLICK.source()) == []
    for choice in ("both", *mailersend.CLICK_EVENTS):
        assert (
            mailersend.check_source(replace(CLICK.source(), options={"click_event": choice})) == []
        )


def test_no_replay_window_unless_a_tolerance_is_set() -> None:
    """Without timestamp_tolerance a year-old signed body verifies; with one it is stale."""
    late = CLICK.request(received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert mailersend.verify(late, CLICK.source()).credential
    with pytest.raises(SignatureError) as error:
        mailersend.verify(late, replace(CLICK.source(), timestamp_tolerance=86400))
    assert error.value.reason == "stale"
    on_time = CLICK.request(received_at=datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(hours=1))
    assert mailersend.verify(on_time, replace(CLICK.source(), timestamp_tolerance=86400))


def test_uppercase_hex_and_rotated_secrets_verify() -> None:
    """Hex case does not matter, and the label names the secret that matched."""
    headers = {"Signature": CLICK.headers["Signature"].upper()}
    source = replace(CLICK.source(), signing_keys=("old-secret", *CLICK.source().signing_keys))
    assert mailersend.verify(CLICK.request(headers=headers), source).credential == "signing_keys[1]"


def test_sign_round_trips_and_ip_list_applies() -> None:
    """`sign` reproduces the Signature header; a configured allow-list refuses other callers."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert mailersend.sign(CLICK.body, CLICK.source(), now) == {
        "Signature": CLICK.headers["Signature"]
    }
    with pytest.raises(ForbiddenSource):
        mailersend.verify(CLICK.request(), replace(CLICK.source(), allowed_ips=("10.0.0.1",)))


@settings(max_examples=100, derandomize=True, database=None)
@given(
    body=st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | EVENTS.map(lambda v: json.dumps(v).encode())
)
def test_parse_of_arbitrary_bodies_raises_only_malformed(body: bytes) -> None:
    """Any bytes, JSON or event-shaped object into `parse` give a result or MalformedPayload."""
    try:
        result = mailersend.parse(CLICK.request(body=body), CLICK.source())
    except MalformedPayload:
        return
    assert len(result.events) + len(result.ignored) + len(result.rejected) == 1


@settings(max_examples=100, derandomize=True, database=None)
@given(headers=st.dictionaries(st.sampled_from(["signature"]) | st.text(max_size=10), st.text()))
def test_verify_of_arbitrary_headers_raises_only_auth_errors(headers: dict[str, str]) -> None:
    """Any headers into `verify` give a label or SignatureError, nothing else."""
    try:
        verified = mailersend.verify(CLICK.request(headers=headers), CLICK.source())
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential == "signing_keys[0]"


@settings(max_examples=100, derandomize=True, database=None)
@given(body=st.binary(max_size=100) | EVENTS.map(lambda v: json.dumps(v).encode()))
def test_window_check_on_signed_arbitrary_bodies_raises_only_signature_errors(body: bytes) -> None:
    """With the opt-in window, a correctly signed body without a usable time is refused cleanly."""
    source = replace(CLICK.source(), timestamp_tolerance=86400)
    headers = mailersend.sign(body, source, datetime(2025, 1, 1, tzinfo=UTC))
    try:
        verified = mailersend.verify(CLICK.request(body=body, headers=headers), source)
    except SignatureError:
        return
    assert verified.credential == "signing_keys[0]"
