"""Brevo quirks: no event id, ms-vs-s `ts_epoch`, local-time `date`, two field families, auth."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import (
    ConnectorError,
    ForbiddenSource,
    InternalError,
    MalformedPayload,
    SignatureError,
    StorageUnavailable,
)
from connector.webhooks import status_for
from providers import brevo
from providers.base import Source
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("brevo")}
MESSAGE_ID = "<202501011158.12345678901@smtp-relay.mailin.fr>"
CLICK = CASES["click"]
SOURCE = CLICK.source()
ITEM: dict[str, Any] = json.loads(CLICK.body)
MARKETING: dict[str, Any] = json.loads(CASES["marketing-click"].body)


def _parse(body: Any, source: Source = SOURCE) -> Any:
    return brevo.parse(CLICK.request(body=json.dumps(body).encode()), source)


def _event(item: dict[str, Any], source: Source = SOURCE) -> Any:
    result = _parse(item, source)
    assert result.rejected == []
    return result.events[0].event


def _without(item: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sent", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:58:41.345000+00:00")]),
        ("delivered", []),
    ],
)
def test_request_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """Transactional `request` (Brevo's "Sent") becomes email.sent; `delivered` does not."""
    assert sent_events(brevo, CASES[name]) == expected


@pytest.mark.parametrize(
    ("ts_epoch", "expected"),
    [
        (1735732800512, "2025-01-01T12:00:00.512000+00:00"),  # milliseconds, as documented
        (1735732800, "2025-01-01T12:00:00+00:00"),  # seconds-sized, as some doc samples show
    ],
)
def test_ts_epoch_unit_is_detected_by_magnitude(ts_epoch: int, expected: str) -> None:
    """`ts_epoch` is ms per the docs but seconds in some samples; both give the right instant."""
    assert _event({**ITEM, "ts_epoch": ts_epoch}).occurred_at.isoformat() == expected


def test_ts_epoch_is_preferred_over_account_local_ts_fields() -> None:
    """anymail saw `ts`/`ts_event` follow the account time zone; `ts_epoch` wins when present."""
    shifted = {**ITEM, "ts": 1735700400, "ts_event": 1735700400}  # nine hours off
    assert _event(shifted).occurred_at.isoformat() == "2025-01-01T12:00:00.512000+00:00"
    only_ts_event = _without(ITEM, "ts_epoch")
    assert _event(only_ts_event).occurred_at.isoformat() == "2025-01-01T12:00:00+00:00"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2025-01-01 13:00:00", "2025-01-01T12:00:00+00:00"),  # CET, UTC+1
        ("2025-07-01 14:00:00", "2025-07-01T12:00:00+00:00"),  # CEST, UTC+2
    ],
)
def test_date_is_read_as_paris_time_only_as_a_last_resort(date: str, expected: str) -> None:
    """With no epoch field, `date` is CET/CEST (Brevo docs), DST included."""
    item = {**_without(ITEM, "ts_epoch", "ts_event", "ts"), "date": date}
    assert _event(item).occurred_at.isoformat() == expected


def test_date_timezone_option_overrides_the_default() -> None:
    """An account in another zone sets options.date_timezone."""
    source = replace(SOURCE, options={"date_timezone": "America/New_York"})
    item = {**_without(ITEM, "ts_epoch", "ts_event", "ts"), "date": "2025-01-01 07:00:00"}
    assert _event(item, source).occurred_at.isoformat() == "2025-01-01T12:00:00+00:00"


def test_event_without_any_time_is_rejected() -> None:
    """No ts_epoch, ts_event, ts or date: the item cannot be placed in time and is rejected."""
    result = _parse(_without(ITEM, "ts_epoch", "ts_event", "ts", "date"))
    assert len(result.rejected) == 1
    year_one = {**_without(ITEM, "ts_epoch", "ts_event", "ts"), "date": "0001-01-01 00:00:00"}
    assert len(_parse(year_one).rejected) == 1  # Paris time before UTC year 1


def test_composite_id_is_stable_and_separates_different_clicks() -> None:
    """Same click -> same id (retries dedupe); another link or instant -> another id."""
    first = _event(ITEM)
    assert _event(dict(ITEM)).id == first.id
    assert first.provider_event_id.startswith("ck_")
    assert _event({**ITEM, "link": "https://shop.example.org/other"}).id != first.id
    assert _event({**ITEM, "ts_epoch": ITEM["ts_epoch"] + 1}).id != first.id
    assert _event({**ITEM, "event": "delivered"}).id != first.id


def test_batch_and_single_deliveries_give_the_same_ids() -> None:
    """Switching a webhook to batched mode does not change event ids (no double counting)."""
    single = _event(ITEM).id
    assert [p.event.id for p in _parse([MARKETING, ITEM]).events][1] == single


def test_marketing_click_uses_url_and_campaign_fields() -> None:
    """Marketing events carry `URL` (upper case), `camp_id` and a `"campaign name"` key."""
    event = _event(MARKETING)
    assert event.link.url == MARKETING["URL"]
    assert event.message.campaign_id == "87"
    assert event.message.id is None
    assert event.metadata["campaign_name"] == "Spring newsletter"


def test_sending_ip_is_never_the_clicker() -> None:
    """`sending_ip` is Brevo's MTA, so client.ip stays empty."""
    assert _event(ITEM).client.ip is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tags": ["a", "b"], "tag": "ignored"}, ["a", "b"]),
        ({"tag": '["tag1","tag2"]'}, ["tag1", "tag2"]),  # JSON array as a string (anymail)
        ({"tag": "header-tag"}, ["header-tag"]),
    ],
)
def test_tags_come_from_tags_or_tag(fields: dict[str, Any], expected: list[str]) -> None:
    """`tags` (array) wins; else `tag`, which may itself be a JSON-encoded array."""
    item = {**_without(ITEM, "tags"), **fields}
    assert _event(item).metadata["tags"] == expected


def test_custom_header_is_decoded_only_when_json_and_contact_zero_is_none() -> None:
    """X-Mailin-custom stays a string unless it holds JSON; contact_id 0 means no contact."""
    event = _event({**ITEM, "X-Mailin-custom": "plain text", "contact_id": 0})
    assert event.metadata["custom"] == "plain text"
    assert event.recipient.id is None


def test_non_object_items_are_rejected_alone() -> None:
    """In a batch, a non-object item is one rejection; the other items proceed."""
    result = _parse([ITEM, 3, "x"])
    assert [r.index for r in result.rejected] == [1, 2]
    assert len(result.events) == 1


def test_allowed_ips_forbid_other_addresses() -> None:
    """The fixture's allow-list refuses a correct credential from an unlisted address."""
    request = replace(CLICK.request(), client_ip="198.51.100.1")
    with pytest.raises(ForbiddenSource):
        brevo.verify(request, SOURCE)


def test_basic_and_bearer_both_authenticate() -> None:
    """The same source accepts its basic-auth pair and its bearer token."""
    basic = base64.b64encode(SOURCE.basic_auth[0].encode()).decode()
    for header, label in (
        (f"Basic {basic}", "basic_auth[0]"),
        ("Bearer brevo_test_bearer_token", "bearer_tokens[0]"),
    ):
        request = replace(CLICK.request(), headers={"authorization": header})
        assert brevo.verify(request, SOURCE).credential == label


def test_sign_produces_a_header_that_verifies() -> None:
    """`sign` gives the Authorization header Brevo would send for this source."""
    headers = brevo.sign(CLICK.body, SOURCE, CLICK.request().received_at)
    request = replace(CLICK.request(), headers={k.lower(): v for k, v in headers.items()})
    assert brevo.verify(request, SOURCE).credential == "basic_auth[0]"


def test_check_source_fails_closed() -> None:
    """No credential, a malformed pair or an unknown date zone are configuration problems."""
    assert brevo.check_source(Source(id="b", provider="brevo"))[0].startswith("basic_auth")
    zone = replace(SOURCE, options={"date_timezone": "Mars/Olympus"})
    assert brevo.check_source(zone)[0].startswith("options.date_timezone")
    assert brevo.check_source(SOURCE) == []


JSON = json_values(10)
FIELDS = ["ts_epoch", "ts_event", "ts", "date", "link", "URL", "email", "message-id", "tag", "tags"]
ITEMS = st.fixed_dictionaries(
    {"event": st.sampled_from(["click", "delivered", "request", "opened"])},
    optional=dict.fromkeys(FIELDS, JSON) | {"X-Mailin-custom": st.text(max_size=20)},
)


@settings(max_examples=100, deadline=None)
@given(
    body=st.binary(max_size=200)
    | (ITEMS | st.lists(ITEMS | JSON, max_size=4)).map(json.dumps).map(str.encode)
)
def test_arbitrary_bodies_only_raise_malformed(body: bytes) -> None:
    """parse returns or raises MalformedPayload, and never yields more than it was given."""
    try:
        result = brevo.parse(CLICK.request(body=body), SOURCE)
    except MalformedPayload:
        return
    given_items = json.loads(body)
    count = len(given_items) if isinstance(given_items, list) else 1
    assert len(result.events) + len(result.rejected) + len(result.ignored) == count


@settings(max_examples=150, deadline=None)
@given(headers=st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=6))
def test_arbitrary_headers_only_raise_signature_or_forbidden(headers: dict[str, str]) -> None:
    """verify with any headers raises SignatureError / ForbiddenSource, never anything else."""
    request = replace(CLICK.request(), headers={k.lower(): v for k, v in headers.items()})
    try:
        verified = brevo.verify(request, SOURCE)
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential in {"basic_auth[0]", "bearer_tokens[0]"}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (StorageUnavailable("down"), 429),
        (InternalError("bug", reason="verify_crash"), 429),
        (SignatureError("bad"), 401),
        (MalformedPayload("bad"), 400),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_our_5xx_become_429_the_one_code_brevo_retries(error: ConnectorError, status: int) -> None:
    """Brevo discards a webhook on any 5xx: storage outages and bugs are answered 429."""
    assert status_for(brevo, error) == status
