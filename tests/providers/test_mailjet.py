"""Mailjet quirks: int64 MessageIDs, string Payloads, grouped arrays, basic auth plus IP list."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import mailjet
from tests.providers.sent import sent_events
from tests.support.fixtures import Case, cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("mailjet")}
CLICK = CASES["click"]
JSON = json_values(8)
FIELDS = ["event", "time", "MessageID", "mj_message_id", "email", "url", "Payload", "CustomID"]
ITEMS = st.dictionaries(st.sampled_from(FIELDS), JSON) | st.fixed_dictionaries(
    {"event": st.sampled_from(["click", "sent", "open"])},
    optional=dict.fromkeys(FIELDS[1:], JSON),
)


def _parse(case: Case, items: Any) -> Any:
    body = json.dumps(items).encode()
    return mailjet.parse(case.request(body=body), case.source())


@pytest.mark.parametrize(("name", "deliveries"), [("delivered", 1), ("batch", 1)])
def test_sent_is_the_delivery_report_not_email_sent(name: str, deliveries: int) -> None:
    """Mailjet's `sent` (accepted by the recipient's server) is email.delivered, not email.sent."""
    result = mailjet.parse(CASES[name].request(), CASES[name].source())
    assert [parsed.event.type for parsed in result.events].count("email.delivered") == deliveries
    assert sent_events(mailjet, CASES[name]) == []


def test_int64_message_id_is_kept_exactly() -> None:
    """A MessageID above 2**53 keeps every digit (JSON readers in JS would round it)."""
    event = mailjet.parse(CLICK.request(), CLICK.source()).events[0].event
    assert event.message.id == "1152921513349101234"


def test_payload_that_is_not_json_is_kept_as_sent() -> None:
    """`Payload` is the sender's string: decoded only when it holds a JSON object or array."""
    item = {**json.loads(CLICK.body)[0], "Payload": "plain text, not json"}
    event = _parse(CLICK, [item]).events[0].event
    assert event.metadata["Payload"] == "plain text, not json"


def test_zero_campaign_id_means_none_and_falls_back_to_customcampaign() -> None:
    """Transactional mail carries mj_campaign_id 0; the X-Mailjet-Campaign value is used then."""
    base = json.loads(CLICK.body)[0]
    with_custom = _parse(CLICK, [{**base, "mj_campaign_id": 0}]).events[0].event
    without = _parse(CLICK, [{**base, "mj_campaign_id": 0, "customcampaign": ""}]).events[0].event
    assert with_custom.message.campaign_id == "spring-promo"
    assert without.message.campaign_id is None


def test_composite_id_separates_links_and_repeats_for_retries() -> None:
    """No event id: the same click twice gets one id, a click on another URL a different one."""
    base = json.loads(CLICK.body)[0]
    other = {**base, "url": "https://shop.example.org/other"}
    result = _parse(CLICK, [base, base, other])
    ids = [parsed.event.id for parsed in result.events]
    assert ids[0] == ids[1] != ids[2]


def test_non_object_item_is_rejected_and_the_rest_proceed() -> None:
    """One junk entry in a grouped array does not sink the batch."""
    result = _parse(CLICK, [42, json.loads(CLICK.body)[0]])
    assert [rejection.index for rejection in result.rejected] == [0]
    assert len(result.events) == 1


def test_allowed_ips_are_enforced_before_credentials() -> None:
    """A caller outside `allowed_ips` is forbidden even with the right password."""
    source = replace(CLICK.source(), allowed_ips=("203.0.113.0/24",))
    with pytest.raises(ForbiddenSource):
        mailjet.verify(CLICK.request(), source)
    inside = replace(source, allowed_ips=("198.51.100.0/24",))
    assert mailjet.verify(CLICK.request(), inside).credential == "basic_auth[0]"


def test_rotated_password_names_the_matching_pair() -> None:
    """With two pairs configured, the label says which one matched."""
    source = replace(
        CLICK.source(), basic_auth=("mailjet:new-password", *CLICK.source().basic_auth)
    )
    assert mailjet.verify(CLICK.request(), source).credential == "basic_auth[1]"


def test_sign_produces_a_header_that_verifies() -> None:
    """`sign` builds the Authorization header Mailjet derives from the registered URL."""
    headers = mailjet.sign(CLICK.body, CLICK.source(), datetime(2025, 1, 1, tzinfo=UTC))
    assert mailjet.verify(CLICK.request(headers=headers), CLICK.source()).credential


def test_check_source_requires_user_password_pairs() -> None:
    """No basic auth, or a pair without a colon, is a configuration problem."""
    assert mailjet.check_source(replace(CLICK.source(), basic_auth=()))[0].startswith("basic_auth")
    assert mailjet.check_source(replace(CLICK.source(), basic_auth=("nocolon",)))
    assert mailjet.check_source(CLICK.source()) == []


@settings(max_examples=100, derandomize=True, database=None)
@given(body=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_parse_of_arbitrary_bodies_raises_only_malformed(body: bytes) -> None:
    """Any bytes or JSON into `parse` give a result or MalformedPayload, nothing else."""
    try:
        result = mailjet.parse(CLICK.request(body=body), CLICK.source())
    except MalformedPayload:
        return
    assert all(parsed.event.provider == "mailjet" for parsed in result.events)


@settings(max_examples=100, derandomize=True, database=None)
@given(items=st.lists(ITEMS, max_size=4))
def test_parse_of_event_shaped_items_never_raises(items: list[dict[str, Any]]) -> None:
    """Event-like items with arbitrary field values become events, rejections or ignores."""
    result = _parse(CLICK, items)
    assert len(result.events) + len(result.rejected) + len(result.ignored) == len(items)


@settings(max_examples=100, derandomize=True, database=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(["authorization", "x-other"]) | st.text(max_size=10),
        st.text(max_size=40) | st.text(max_size=40).map(lambda v: "Basic " + v),
    )
)
def test_verify_of_arbitrary_headers_raises_only_auth_errors(headers: dict[str, str]) -> None:
    """Any headers into `verify` give a label or SignatureError/ForbiddenSource, nothing else."""
    try:
        verified = mailjet.verify(CLICK.request(headers=headers), CLICK.source())
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential == "basic_auth[0]"
