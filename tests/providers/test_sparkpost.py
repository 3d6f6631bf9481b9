"""SparkPost quirks: msys wrapping and pings, basic/bearer/legacy auth, timestamp formats."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import sparkpost
from providers.base import Source
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("sparkpost")}
CLICK = CASES["click"]
SOURCE = CLICK.source()
EVENT: dict[str, Any] = json.loads(CLICK.body)[0]["msys"]["track_event"]


def _parse(items: Any, **headers: str) -> Any:
    request = CLICK.request(body=json.dumps(items).encode())
    if headers:
        request = replace(request, headers={**request.headers, **headers})
    return sparkpost.parse(request, SOURCE)


def _verify(headers: dict[str, str], source: Source = SOURCE, ip: str | None = None) -> str:
    request = replace(CLICK.request(), headers=headers, client_ip=ip or CLICK.request().client_ip)
    return sparkpost.verify(request, source).credential


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "sent",
            [
                Sent(
                    "dana@example.org",
                    "000443ee14578172be22",
                    "spring-promo",
                    "2025-01-01T11:59:07+00:00",
                )
            ],
        ),
        ("delivered", []),
    ],
)
def test_injection_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """An `injection` becomes email.sent with recipient, message and campaign; not a delivery."""
    assert sent_events(sparkpost, CASES[name]) == expected


def test_ping_items_are_acknowledged_without_counting() -> None:
    """`{"msys": {}}` is a validation ping: no event, no ignored type, no rejection."""
    result = _parse([{"msys": {}}, {"msys": {}}])
    assert (result.events, result.ignored, result.rejected) == ([], [], [])


@pytest.mark.parametrize(
    "item",
    [
        {"msys": {"track_event": EVENT, "message_event": EVENT}},
        {"msys": {"track_event": "not an object"}},
        {"msys": []},
        {"other": {}},
        "a string",
        7,
    ],
)
def test_items_of_another_shape_are_rejected_alone(item: Any) -> None:
    """A misshapen item becomes one rejection while the rest of the batch proceeds."""
    result = _parse([item, {"msys": {"track_event": EVENT}}])
    assert [r.index for r in result.rejected] == [0]
    assert [p.event.type for p in result.events] == ["email.clicked"]


def test_extra_top_level_keys_beside_msys_are_tolerated() -> None:
    """Real batches carry `cust` next to `msys` (anymail's captures); the event still parses."""
    result = _parse([{"msys": {"track_event": EVENT}, "cust": {"id": "1"}}])
    assert [p.event.type for p in result.events] == ["email.clicked"]


def test_single_unwrapped_item_is_accepted_but_scalars_are_malformed() -> None:
    """A lone `{"msys": ...}` object is read as a one-item batch; a JSON scalar is not SparkPost."""
    assert len(_parse({"msys": {"track_event": EVENT}}).events) == 1
    with pytest.raises(MalformedPayload):
        _parse({"not": "sparkpost"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1735732800", "2025-01-01T12:00:00+00:00"),
        (1735732800, "2025-01-01T12:00:00+00:00"),
        ("2025-01-01T12:00:00.000+00:00", "2025-01-01T12:00:00+00:00"),
        ("2025-01-01T13:00:00.000+01:00", "2025-01-01T12:00:00+00:00"),
    ],
)
def test_timestamps_as_string_seconds_or_iso(raw: Any, expected: str) -> None:
    """SparkPost's `timestamp` is usually string seconds, sometimes ISO-8601: both become UTC."""
    event = _parse([{"msys": {"track_event": {**EVENT, "timestamp": raw}}}]).events[0].event
    assert event.occurred_at.isoformat() == expected


def test_missing_event_id_or_timestamp_rejects_the_item() -> None:
    """Without event_id (our dedup key) or a readable timestamp an item is rejected."""
    no_id = {k: v for k, v in EVENT.items() if k != "event_id"}
    bad_time = {**EVENT, "event_id": "2", "timestamp": "yesterday"}
    edge = {**EVENT, "event_id": "3", "timestamp": "0001-01-01T00:00:00+01:00"}  # before year 1
    items = [{"msys": {"track_event": item}} for item in (no_id, bad_time, edge)]
    assert [r.index for r in _parse(items).rejected] == [0, 1, 2]


def test_raw_rcpt_to_keeps_the_address_case() -> None:
    """`raw_rcpt_to` (as sent) wins over the lower-cased `rcpt_to`."""
    case = CASES["delivered"]
    event = sparkpost.parse(case.request(), SOURCE).events[0].event
    assert event.recipient.email == "Dana@Example.org"


def test_amp_click_is_a_click_flagged_in_metadata() -> None:
    """AMP clicks are clicks; metadata says so, because bot heuristics treat them differently."""
    event = _parse([{"msys": {"track_event": {**EVENT, "type": "amp_click"}}}]).events[0].event
    assert event.type == "email.clicked"
    assert event.metadata["amp"] is True


def test_batch_id_header_goes_to_metadata() -> None:
    """`X-MessageSystems-Batch-ID` is kept on each event for audit."""
    result = _parse([{"msys": {"track_event": EVENT}}], **{"x-messagesystems-batch-id": "b-1"})
    assert result.events[0].event.metadata["batch_id"] == "b-1"


def test_basic_bearer_and_legacy_token_authenticate() -> None:
    """Basic auth, an OAuth bearer token and the deprecated webhook-token header all work."""
    basic = base64.b64encode(SOURCE.basic_auth[0].encode()).decode()
    assert _verify({"authorization": f"Basic {basic}"}) == "basic_auth[0]"
    assert _verify({"authorization": f"Bearer {SOURCE.bearer_tokens[0]}"}) == "bearer_tokens[0]"
    legacy = {"x-messagesystems-webhook-token": SOURCE.bearer_tokens[0]}
    assert _verify(legacy) == "bearer_tokens[0]"
    with pytest.raises(SignatureError):
        _verify({"x-messagesystems-webhook-token": "wrong"})


def test_rotated_credentials_name_the_one_that_matched() -> None:
    """With two bearer tokens configured, the second one is reported as bearer_tokens[1]."""
    rotated = replace(SOURCE, bearer_tokens=("old-token", "new-token"))
    assert _verify({"authorization": "Bearer new-token"}, rotated) == "bearer_tokens[1]"


def test_allowed_ips_are_enforced_before_credentials() -> None:
    """With an allow-list, a correct credential from another address is forbidden."""
    listed = replace(SOURCE, allowed_ips=("198.51.100.0/24",))
    headers = dict(CLICK.request().headers)
    assert _verify(headers, listed, ip="198.51.100.9") == "basic_auth[0]"
    with pytest.raises(ForbiddenSource):
        _verify(headers, listed, ip="203.0.113.9")


def test_sign_produces_a_header_that_verifies() -> None:
    """`sign` gives the Authorization header SparkPost would send for this source."""
    headers = {
        k.lower(): v for k, v in sparkpost.sign(b"[]", SOURCE, CLICK.request().received_at).items()
    }
    assert _verify(headers) == "basic_auth[0]"


def test_check_source_fails_closed() -> None:
    """A source without basic_auth or bearer_tokens is refused; the problem names the key."""
    assert sparkpost.check_source(Source(id="s", provider="sparkpost"))[0].startswith("basic_auth")
    assert sparkpost.check_source(Source(id="s", provider="sparkpost", basic_auth=("nocolon",)))
    assert sparkpost.check_source(SOURCE) == []


JSON = json_values(10)
EVENT_FIELDS = ["type", "event_id", "timestamp", "target_link_url", "raw_rcpt_to", "rcpt_meta"]
ITEM = st.builds(
    lambda cls, fields: {"msys": {cls: fields}},
    st.sampled_from(["track_event", "message_event", "gen_event"]),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["click", "amp_click", "delivery", "injection", "open"])},
        optional=dict.fromkeys(EVENT_FIELDS[1:], JSON),
    ),
)


@settings(max_examples=100, deadline=None)
@given(
    body=st.binary(max_size=200) | st.lists(ITEM | JSON, max_size=5).map(json.dumps).map(str.encode)
)
def test_arbitrary_bodies_only_raise_malformed(body: bytes) -> None:
    """parse returns or raises MalformedPayload; every item is accounted for exactly once."""
    try:
        result = sparkpost.parse(CLICK.request(body=body), SOURCE)
    except MalformedPayload:
        return
    assert len(result.events) + len(result.rejected) + len(result.ignored) <= len(json.loads(body))


@settings(max_examples=150, deadline=None)
@given(headers=st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=6))
def test_arbitrary_headers_only_raise_signature_or_forbidden(headers: dict[str, str]) -> None:
    """verify with any headers raises SignatureError / ForbiddenSource, never anything else."""
    try:
        credential = _verify({k.lower(): v for k, v in headers.items()})
    except (SignatureError, ForbiddenSource):
        return
    assert credential in {"basic_auth[0]", "bearer_tokens[0]"}
