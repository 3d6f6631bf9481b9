"""The generic adapter: every auth type, config errors, paths, timestamps, ids, and robustness."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.config import parse_settings
from connector.errors import ConfigError, ConnectorError, ForbiddenSource, SignatureError
from providers import generic
from providers.base import Source, WebhookRequest
from schemas import EmailClicked

NOW = datetime(2025, 1, 1, 12, 0, 2, tzinfo=UTC)
STAMP = "1735732801"
KEY = "inhouse-test-key"
OPTIONS: dict[str, Any] = {
    "auth": {
        "type": "hmac",
        "header": "X-Signature",
        "prefix": "sha256=",
        "signed": "{timestamp}.{body}",
        "timestamp_header": "X-Timestamp",
    },
    "click": {"path": "type", "equals": "email.clicked"},
    "delivered": {"path": "type", "in": ["email.delivered"]},
    "fields": {
        "provider_event_id": "id",
        "occurred_at": "at",
        "recipient.email": "to",
        "message.id": "message_id",
        "link.url": "link.url",
        "client.user_agent": "client.ua",
        "client.ip": "client.ip",
    },
}
EVENT: dict[str, Any] = {
    "id": "ev_1",
    "type": "email.clicked",
    "at": "2025-01-01T12:00:00Z",
    "to": "dana@example.org",
    "message_id": "m_1",
    "link": {"url": "https://shop.example.org/spring"},
    "client": {"ua": "Mozilla/5.0", "ip": "198.51.100.23"},
}
BODY = json.dumps(EVENT).encode()
DOCS = Path(__file__).resolve().parents[2] / "docs" / "generic-adapter.md"


def _source(options: dict[str, Any] | None = None, **fields: Any) -> Source:
    values: dict[str, Any] = {"signing_keys": (KEY,), **fields}
    return Source(id="inhouse", provider="generic", options=options or OPTIONS, **values)


def _options(**changes: Any) -> dict[str, Any]:
    options = copy.deepcopy(OPTIONS)
    options.update(changes)
    return options


def _request(
    body: bytes = BODY, headers: dict[str, str] | None = None, **changes: Any
) -> WebhookRequest:
    request = WebhookRequest(
        source_id="inhouse",
        method="POST",
        url="https://hooks.example.net/webhooks/inhouse",
        headers={k.lower(): v for k, v in (headers or {}).items()},
        body=body,
        client_ip="198.51.100.7",
        received_at=NOW,
    )
    return replace(request, **changes)


def _hmac(key: str, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key.encode(), message, getattr(hashlib, algorithm)).digest()


def _signed(body: bytes = BODY, key: str = KEY, stamp: str = STAMP) -> dict[str, str]:
    digest = _hmac(key, stamp.encode() + b"." + body).hex()
    return {"X-Timestamp": stamp, "X-Signature": f"sha256={digest}"}


# --- authenticity ---------------------------------------------------------------------------


def test_hmac_over_timestamp_and_body_verifies_with_the_matching_key() -> None:
    """An independently computed HMAC of `{timestamp}.{body}` verifies, naming the key used."""
    source = _source(signing_keys=("old-key", KEY))
    assert generic.verify(_request(headers=_signed()), source).credential == "signing_keys[1]"


def test_hmac_rejects_tampered_body_wrong_key_and_missing_headers() -> None:
    """A changed body, another key, or a missing signature/timestamp header is a 401."""
    headers = _signed()
    for request in (
        _request(BODY.replace(b"dana", b"erin"), headers),
        _request(headers=_signed(key="other-key")),
        _request(headers={"X-Timestamp": STAMP}),
        _request(headers={"X-Signature": headers["X-Signature"]}),
        _request(headers={**headers, "X-Signature": "sha256=not-hex"}),
    ):
        with pytest.raises(SignatureError):
            generic.verify(request, _source())


def test_hmac_replay_window_uses_timestamp_tolerance() -> None:
    """A signature older than the tolerance (300 s by default) or far in the future is refused."""
    late = _request(headers=_signed(), received_at=datetime(2025, 1, 1, 12, 5, 2, tzinfo=UTC))
    with pytest.raises(SignatureError, match="tolerance"):
        generic.verify(late, _source())
    assert generic.verify(late, _source(timestamp_tolerance=600)).credential == "signing_keys[0]"
    future = _request(headers=_signed(stamp="1735733900"))
    with pytest.raises(SignatureError, match="future"):
        generic.verify(future, _source())


def test_timestamp_header_may_be_milliseconds_or_iso() -> None:
    """The timestamp header is read as Unix seconds, milliseconds or ISO-8601."""
    for stamp in ("1735732801000", "2025-01-01T12:00:01Z"):
        headers = _signed(stamp=stamp)
        assert generic.verify(_request(headers=headers), _source()).credential == "signing_keys[0]"
    with pytest.raises(SignatureError, match="not a Unix or ISO"):
        generic.verify(_request(headers=_signed(stamp="yesterday")), _source())


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_hmac_algorithms_and_encodings(algorithm: str, encoding: str) -> None:
    """Each algorithm/encoding verifies a signature of the raw body, and `sign` matches it."""
    options = _options(auth={"type": "hmac", "header": "X-Sig", "algorithm": algorithm})
    options["auth"]["encoding"] = encoding
    digest = _hmac(KEY, BODY, algorithm)
    value = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    source = _source(options)
    assert generic.verify(_request(headers={"X-Sig": value}), source).credential
    assert generic.sign(BODY, source, NOW) == {"X-Sig": value}


def test_several_signatures_in_one_header_any_may_match() -> None:
    """A sender rotating keys may send two signatures; one that matches is enough."""
    good = _signed()["X-Signature"]
    header = f"sha256={'0' * 64}, {good}"
    request = _request(headers={"X-Timestamp": STAMP, "X-Signature": header})
    assert generic.verify(request, _source()).credential == "signing_keys[0]"


def test_url_and_header_placeholders_are_signed() -> None:
    """`{url}` uses the configured URL (not the one seen behind a proxy); `{header:X}` a header."""
    auth = {"type": "hmac", "header": "X-Sig", "signed": "{url}|{header:X-Request-Id}|{body}"}
    source = _source(_options(auth=auth), url="https://hooks.example.net/acme")
    message = b"https://hooks.example.net/acme|req-7|" + BODY
    headers = {"X-Sig": _hmac(KEY, message).hex(), "X-Request-Id": "req-7"}
    request = _request(headers=headers, url="http://10.0.0.5:8080/webhooks/inhouse")
    assert generic.verify(request, source).credential == "signing_keys[0]"
    with pytest.raises(SignatureError, match="missing X-Request-Id"):
        generic.verify(_request(headers={"X-Sig": headers["X-Sig"]}), source)


def test_hmac_sign_round_trips_through_verify() -> None:
    """`sign` produces the headers `verify` accepts at the same moment (for send-sample)."""
    headers = generic.sign(BODY, _source(), NOW)
    assert headers["X-Timestamp"] == str(int(NOW.timestamp()))
    assert generic.verify(_request(headers=headers), _source()).credential == "signing_keys[0]"


def test_basic_auth() -> None:
    """Basic auth accepts a configured pair, names it, and refuses others or none."""
    source = _source(_options(auth={"type": "basic"}), basic_auth=("hook:old", "hook:s3cret"))
    good = "Basic " + base64.b64encode(b"hook:s3cret").decode()
    verified = generic.verify(_request(headers={"Authorization": good}), source)
    assert verified.credential == "basic_auth[1]"
    assert generic.sign(BODY, source, NOW) == {
        "Authorization": "Basic " + base64.b64encode(b"hook:old").decode()
    }
    bad = "Basic " + base64.b64encode(b"hook:guess").decode()
    for headers in ({"Authorization": bad}, {}, {"Authorization": "Bearer hook:s3cret"}):
        with pytest.raises(SignatureError):
            generic.verify(_request(headers=headers), source)


def test_bearer_token() -> None:
    """`Authorization: Bearer` is compared with every configured token."""
    source = _source(_options(auth={"type": "bearer"}), bearer_tokens=("tok-a", "tok-b"))
    request = _request(headers={"Authorization": "Bearer tok-b"})
    assert generic.verify(request, source).credential == "bearer_tokens[1]"
    with pytest.raises(SignatureError):
        generic.verify(_request(headers={"Authorization": "Bearer tok-c"}), source)


def test_custom_token_header_with_optional_prefix() -> None:
    """A custom header carries a token, optionally after a prefix; others are refused."""
    auth = {"type": "header", "header": "X-Webhook-Token", "prefix": "Token "}
    source = _source(_options(auth=auth), bearer_tokens=("tok-a",))
    for value in ("Token tok-a", "tok-a"):
        verified = generic.verify(_request(headers={"X-Webhook-Token": value}), source)
        assert verified.credential == "bearer_tokens[0]"
    assert generic.sign(BODY, source, NOW) == {"X-Webhook-Token": "Token tok-a"}
    for headers in ({"X-Webhook-Token": "Token tok-b"}, {"Authorization": "Bearer tok-a"}):
        with pytest.raises(SignatureError):
            generic.verify(_request(headers=headers), source)


def test_none_needs_insecure_and_still_honours_allowed_ips() -> None:
    """`type = "none"` is a config problem unless `insecure`; even then `allowed_ips` apply."""
    options = _options(auth={"type": "none"})
    problems = generic.check_source(_source(options))
    assert problems == ['options.auth.type: "none" accepts anyone; it needs insecure = true']
    with pytest.raises(ConfigError):
        generic.verify(_request(), _source(options))
    open_source = _source(options, insecure=True, allowed_ips=("198.51.100.0/24",))
    assert generic.check_source(open_source) == []
    assert generic.verify(_request(), open_source).credential == "none (insecure source)"
    with pytest.raises(ForbiddenSource):
        generic.verify(_request(client_ip="203.0.113.9"), open_source)


def test_allowed_ips_refuse_other_callers_before_checking_credentials() -> None:
    """With `allowed_ips`, a correctly signed request from elsewhere gets 403."""
    source = _source(allowed_ips=("192.0.2.0/24",))
    with pytest.raises(ForbiddenSource):
        generic.verify(_request(headers=_signed()), source)


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "prefix"),
    [
        (_options(auth={"type": "magic"}), "options.auth.type: must be one of"),
        (_options(auth={"type": "hmac"}), "options.auth.header: must be an HTTP header name"),
        (_options(auth={"type": "hmac", "header": "X S"}), "options.auth.header:"),
        (
            _options(auth={"type": "hmac", "header": "X-S", "algorithm": "md5"}),
            "options.auth.algorithm:",
        ),
        (
            _options(auth={"type": "hmac", "header": "X-S", "encoding": "b32"}),
            "options.auth.encoding:",
        ),
        (
            _options(auth={"type": "hmac", "header": "X-S", "signed": "{timestamp}.{body}"}),
            "options.auth.signed: {timestamp} needs options.auth.timestamp_header",
        ),
        (
            _options(auth={"type": "hmac", "header": "X-S", "signed": "{timestamp}"}),
            "options.auth.signed: must be a string containing {body}",
        ),
        (
            _options(auth={"type": "hmac", "header": "X-S", "signed": "{nonce}{body}"}),
            "options.auth.signed: unknown placeholder {nonce}",
        ),
        (
            _options(auth={"type": "hmac", "header": "X-S", "signed": "{body}}"}),
            "options.auth.signed: unbalanced brace",
        ),
        (_options(auth={"type": "basic", "header": "X"}), "options.auth.header: unknown key"),
        (_options(auth={"type": "header"}), "options.auth.header:"),
        (_options(click=None), "options.click: must be a table like"),
        (_options(click={"path": "type"}), "options.click: give exactly one of equals or in"),
        (_options(click={"path": "type", "in": []}), "options.click: values must be"),
        (_options(click={"path": "", "equals": "x"}), "options.click.path:"),
        (_options(delivered={"path": "t", "equals": {"a": 1}}), "options.delivered: values"),
        (_options(sent={"path": "type"}), "options.sent: give exactly one of equals or in"),
        (
            _options(sent={"path": "type", "in": ["email.sent", "email.delivered"]}),
            "options.sent: matches the same items as options.delivered",
        ),
        (
            _options(not_clicked={"path": "type", "equals": "x"}),
            "options.not_clicked: email.not_clicked cannot be mapped from a webhook",
        ),
        (
            _options(click_timeout={"path": "type", "equals": "x"}),
            "options.click_timeout: email.click_timeout cannot be mapped from a webhook",
        ),
        (
            _options(**{"email.click_timeout": {"path": "type", "equals": "x"}}),
            "options.email.click_timeout: email.click_timeout cannot be mapped",
        ),
        (_options(events_path="$header.X-Events"), "options.events_path: must be a path inside"),
        (_options(events_path="data..items"), "options.events_path: path has an empty"),
        (_options(fields={"link.url": "u"}), "options.fields.occurred_at: required"),
        (_options(fields={"occurred_at": "t"}), "options.fields.link.url: required"),
        (
            _options(fields={"occurred_at": "t", "link.url": "u", "link.colour": "c"}),
            "options.fields.link.colour: unknown field",
        ),
        (
            _options(fields={"occurred_at": 5, "link.url": "u"}),
            "options.fields.occurred_at: must be",
        ),
        (
            _options(fields={"occurred_at": "t", "link.url": "$header.bad header"}),
            "options.fields.link.url:",
        ),
        (_options(timestamp={"format": "rfc2822"}), "options.timestamp.format:"),
        (_options(timestamp={"format": "strftime"}), "options.timestamp.pattern:"),
        (_options(timestamp={"timezone": "Mars/Olympus"}), "options.timestamp.timezone:"),
        (_options(provider_label=""), "options.provider_label:"),
        (_options(events="data"), "options.events: unknown key"),
    ],
)
def test_config_errors_name_their_key(options: dict[str, Any], prefix: str) -> None:
    """Each invalid option is reported, starting with the key it concerns; verify fails closed."""
    problems = generic.check_source(_source(options))
    assert any(problem.startswith(prefix) for problem in problems), problems
    with pytest.raises(ConfigError):
        generic.verify(_request(headers=_signed()), _source(options))


@pytest.mark.parametrize(
    ("changes", "prefix"),
    [
        ({"signing_keys": ()}, "signing_keys:"),
        ({"options": _options(auth={"type": "basic"})}, "basic_auth:"),
        ({"options": _options(auth={"type": "basic"}), "basic_auth": ("nocolon",)}, "basic_auth:"),
        ({"options": _options(auth={"type": "bearer"})}, "bearer_tokens:"),
        ({"options": _options(auth={"type": "header", "header": "X-T"})}, "bearer_tokens:"),
        ({"allowed_ips": ("not-an-ip",)}, "allowed_ips:"),
        (
            {"options": _options(auth={"type": "hmac", "header": "X", "signed": "{url}{body}"})},
            "url: options.auth.signed uses {url}",
        ),
    ],
)
def test_missing_credentials_are_config_problems(changes: dict[str, Any], prefix: str) -> None:
    """A source without the credentials its auth type needs does not start (fail closed)."""
    problems = generic.check_source(replace(_source(), **changes))
    assert any(problem.startswith(prefix) for problem in problems), problems


def test_settings_report_generic_problems_by_source() -> None:
    """Loading a config names the source and the option key of each problem."""
    data = {"sources": [{"id": "acme", "provider": "generic", "options": {"auth": {}}}]}
    with pytest.raises(ConfigError) as raised:
        parse_settings(data, env={})
    assert any(p.startswith("sources[0] (acme).options.auth.type:") for p in raised.value.problems)


def test_nested_field_tables_mean_the_same_as_dotted_names() -> None:
    """TOML `link = {url = ...}` and `"link.url" = ...` compile to the same mapping."""
    nested = _options(fields={"occurred_at": "at", "link": {"url": "link.url"}})
    dotted = _options(fields={"occurred_at": "at", "link.url": "link.url"})
    events = [generic.parse(_request(), _source(o)).events[0].event for o in (nested, dotted)]
    assert events[0] == events[1]
    assert events[0].link.url == "https://shop.example.org/spring"


def test_compiled_mapping_is_cached_per_options() -> None:
    """Equal options reuse one compiled spec; different options get their own."""
    first = generic._spec(_source())
    assert generic._spec(_source(copy.deepcopy(OPTIONS))) is first
    assert generic._spec(_source(_options(provider_label="x"))) is not first


# --- normalisation --------------------------------------------------------------------------


def test_click_is_normalised_with_every_mapped_field() -> None:
    """A mapped click becomes an email.clicked event with provider "generic"."""
    result = generic.parse(_request(), _source())
    event = result.events[0].event
    assert isinstance(event, EmailClicked)
    assert (event.provider, event.source, event.provider_event_id) == ("generic", "inhouse", "ev_1")
    assert event.recipient.email == "dana@example.org"
    assert event.message.id == "m_1"
    assert (event.link.url, event.link.host) == (EVENT["link"]["url"], "shop.example.org")
    assert (event.client.user_agent, event.client.ip) == ("Mozilla/5.0", "198.51.100.23")
    assert event.occurred_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert event.metadata == {"esp": "generic"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("12", 12),
        (" 3 ", 3),
        (0, 0),
        (-1, None),
        (True, None),
        ("many", None),
        (2.5, None),
        (10**30, None),
        (None, None),
    ],
)
def test_link_count_and_position_are_whole_numbers_or_unknown(value: Any, expected: Any) -> None:
    """`message.link_count` and `link.position` take counts; other values are left unknown."""
    fields = {**OPTIONS["fields"], "message.link_count": "links", "link.position": "links"}
    body = json.dumps({**EVENT, "links": value}).encode()
    event = generic.parse(_request(body), _source(_options(fields=fields))).events[0].event
    assert isinstance(event, EmailClicked)
    assert (event.message.link_count, event.link.position) == (expected, expected)


def test_delivered_ignored_and_rejected_items_in_one_batch() -> None:
    """In an array, deliveries, unknown types and unusable items are told apart per item."""
    items = [
        EVENT,
        {**EVENT, "id": "ev_2", "type": "email.delivered"},
        {**EVENT, "id": "ev_3", "type": "email.opened"},
        {**EVENT, "id": "ev_4", "link": {}},
        {**EVENT, "id": "ev_5", "at": "next tuesday"},
        {key: value for key, value in EVENT.items() if key != "id"},
        "not an object",
        {"no": "type"},
    ]
    result = generic.parse(_request(json.dumps(items).encode()), _source())
    assert [p.event.type for p in result.events] == ["email.clicked", "email.delivered"]
    assert result.ignored == ["email.opened", "(nothing at type)"]
    reasons = {r.index: r.reason for r in result.rejected}
    assert reasons[3].startswith("link.url: no URL at link.url")
    assert reasons[4].startswith("occurred_at: 'next tuesday' is not a auto time")
    assert reasons[5] == "provider_event_id: nothing at id"
    assert reasons[6] == "event is not a JSON object"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"type": "email.sent"}, ("email.sent", "dana@example.org", "m_1", "spring")),
        ({"type": "email.sent", "link": {}}, ("email.sent", "dana@example.org", "m_1", "spring")),
        ({"type": "email.delivered"}, ("email.delivered", "dana@example.org", "m_1", "spring")),
    ],
)
def test_sent_items_become_email_sent(changes: dict[str, Any], expected: tuple[str, ...]) -> None:
    """Items matching `sent` become email.sent with recipient, message and campaign, URL or not."""
    fields = {**OPTIONS["fields"], "message.campaign_id": "campaign"}
    source = _source(_options(sent={"path": "type", "equals": "email.sent"}, fields=fields))
    body = json.dumps({**EVENT, "campaign": "spring", **changes}).encode()
    event = generic.parse(_request(body), source).events[0].event
    got = (event.type, event.recipient.email, event.message.id, event.message.campaign_id)
    assert got == expected


def test_events_path_and_integer_indexes() -> None:
    """`events_path` finds the array; `data.0.url`-style paths index into arrays."""
    fields = {"occurred_at": "at", "link.url": "links.1.href", "recipient.email": "$body.meta.to"}
    options = _options(events_path="payload.events", fields=fields)
    item = {**EVENT, "links": [{"href": "https://a.example/"}, {"href": "https://b.example/"}]}
    body = json.dumps({"payload": {"events": [item]}, "meta": {"to": "erin@example.org"}})
    event = generic.parse(_request(body.encode()), _source(options)).events[0].event
    assert isinstance(event, EmailClicked)
    assert event.link.url == "https://b.example/"
    assert event.recipient.email == "erin@example.org"
    ping = generic.parse(_request(b'{"ping": true}'), _source(options))
    assert (ping.events, ping.ignored) == ([], ["(nothing at payload.events)"])


def test_events_path_to_a_scalar_is_malformed() -> None:
    """An `events_path` that leads to a string is a 400, not a silent acknowledgement."""
    from connector.errors import MalformedPayload

    with pytest.raises(MalformedPayload):
        generic.parse(_request(b'{"data": "x"}'), _source(_options(events_path="data")))


def test_header_paths_read_request_headers() -> None:
    """`$header.Name` reads a header (case-insensitive), e.g. the event id and a bot flag."""
    fields = {
        **OPTIONS["fields"],
        "provider_event_id": "$header.X-Event-Id",
        "metadata.esp_bot_hint": "$header.X-Bot",
    }
    source = _source(_options(fields=fields))
    headers = {"x-event-id": "hdr-42", "X-Bot": "true"}
    event = generic.parse(_request(headers=headers), source).events[0].event
    assert event.provider_event_id == "hdr-42"
    assert event.metadata["esp_bot_hint"] == "true"
    missing = generic.parse(_request(), source)
    assert missing.rejected[0].reason == "provider_event_id: nothing at $header.X-Event-Id"


def test_list_paths_reach_keys_containing_dots() -> None:
    """A path given as a list addresses a key that itself contains a dot."""
    fields = {**OPTIONS["fields"], "metadata.utm": ["props", "utm.source"]}
    body = json.dumps({**EVENT, "props": {"utm.source": "news"}}).encode()
    event = generic.parse(_request(body), _source(_options(fields=fields))).events[0].event
    assert event.metadata["utm"] == "news"


def test_metadata_object_json_string_and_label() -> None:
    """`metadata` copies an object (or a JSON string of one); `provider_label` becomes `esp`."""
    fields = {**OPTIONS["fields"], "metadata": "meta"}
    options = _options(fields=fields, provider_label="acme")
    for meta in ({"tier": "gold"}, json.dumps({"tier": "gold"})):
        body = json.dumps({**EVENT, "meta": meta}).encode()
        event = generic.parse(_request(body), _source(options)).events[0].event
        assert event.metadata == {"tier": "gold", "esp": "acme"}
        assert event.provider == "generic"


def test_without_an_id_mapping_the_composite_key_is_used() -> None:
    """No `provider_event_id` mapping: a stable composite key of message, recipient, URL, time."""
    fields = {k: v for k, v in OPTIONS["fields"].items() if k != "provider_event_id"}
    source = _source(_options(fields=fields))
    first = generic.parse(_request(), source).events[0].event
    again = generic.parse(_request(), source).events[0].event
    other = {**EVENT, "link": {"url": "https://shop.example.org/other"}}
    second = generic.parse(_request(json.dumps(other).encode()), source).events[0].event
    assert first.provider_event_id.startswith("ck_")
    assert first.id == again.id
    assert second.id != first.id


def test_event_ids_are_scoped_by_label_else_by_source() -> None:
    """Unlabelled sources never share ids; sources with the same label de-duplicate together."""
    a = generic.parse(_request(), _source()).events[0].event
    b = generic.parse(_request(source_id="other"), _source()).events[0].event
    assert a.id != b.id
    labelled = _source(_options(provider_label="acme"))
    c = generic.parse(_request(), labelled).events[0].event
    d = generic.parse(_request(source_id="other"), labelled).events[0].event
    assert c.id == d.id


@pytest.mark.parametrize(
    ("timestamp", "value", "expected"),
    [
        ({}, 1735732800, "2025-01-01T12:00:00+00:00"),
        ({}, 1735732800123, "2025-01-01T12:00:00.123000+00:00"),
        ({}, "1735732800", "2025-01-01T12:00:00+00:00"),
        ({}, "2025-01-01T13:00:00+01:00", "2025-01-01T12:00:00+00:00"),
        (
            {"format": "auto", "timezone": "+02:00"},
            "2025-01-01T14:00:00",
            "2025-01-01T12:00:00+00:00",
        ),
        ({"format": "unix"}, "1735732800.5", "2025-01-01T12:00:00.500000+00:00"),
        ({"format": "unix_ms"}, 1735732800000, "2025-01-01T12:00:00+00:00"),
        ({"format": "iso"}, "2025-01-01 12:00:00 +00:00", "2025-01-01T12:00:00+00:00"),
        (
            {"format": "iso", "timezone": "Europe/Paris"},
            "2025-01-01T13:00:00",
            "2025-01-01T12:00:00+00:00",
        ),
        (
            {"format": "strftime", "pattern": "%Y-%m-%d %H:%M:%S %z"},
            "2017-05-15 23:59:47 +00:00",
            "2017-05-15T23:59:47+00:00",
        ),
        (
            {"format": "strftime", "pattern": "%d/%m/%Y %H:%M", "timezone": "-05:00"},
            "01/01/2025 07:00",
            "2025-01-01T12:00:00+00:00",
        ),
    ],
)
def test_timestamp_formats(timestamp: dict[str, Any], value: Any, expected: str) -> None:
    """Each timestamp format reads its values into UTC, applying `timezone` to naive times."""
    body = json.dumps({**EVENT, "at": value}).encode()
    event = generic.parse(_request(body), _source(_options(timestamp=timestamp))).events[0].event
    assert event.occurred_at == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("timestamp", "value"),
    [
        ({"format": "unix"}, "2025-01-01T12:00:00Z"),
        ({"format": "unix_ms"}, True),
        ({"format": "iso"}, 1735732800),
        ({"format": "strftime", "pattern": "%Y"}, "2025-01-01"),
        ({}, {"nested": 1}),
        ({"format": "unix"}, 1e300),
    ],
)
def test_unreadable_times_reject_the_item(timestamp: dict[str, Any], value: Any) -> None:
    """A time the format cannot read rejects that item with a reason naming occurred_at."""
    body = json.dumps({**EVENT, "at": value}).encode()
    result = generic.parse(_request(body), _source(_options(timestamp=timestamp)))
    assert result.events == []
    assert result.rejected[0].reason.startswith("occurred_at:")


# --- documentation and robustness ---------------------------------------------------------------


def test_documented_configs_load_and_the_worked_example_holds() -> None:
    """Every TOML block of docs/generic-adapter.md loads; example 2 gives the documented event."""
    text = DOCS.read_text()
    env = {"ITERABLE_WEBHOOK_TOKEN": "it-token", "ACME_WEBHOOK_SECRET": "acme-test-secret"}
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    loaded = [parse_settings(tomllib.loads(block), env) for block in blocks]
    assert [s.sources[0].id for s in loaded] == ["iterable", "acme-mailer"]
    http = re.findall(r"```http\n(.*?)```", text, re.S)[1]
    head, body = http.split("\n\n", 1)
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    request = replace(_request(body.strip().encode(), headers), source_id="acme-mailer")
    source = loaded[1].sources[0].to_source()
    assert generic.verify(request, source).credential == "signing_keys[0]"
    documented = json.loads(re.findall(r"```json\n(.*?)```", text, re.S)[0])
    assert generic.parse(request, source).events[0].event.model_dump(mode="json") == documented


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["id", "type", "at", "to", "link", "url", "0"]), children)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    item=_JSON,
    kind=st.sampled_from(["email.clicked", "email.delivered", "email.sent", "other"]),
    at=_JSON,
    headers=st.dictionaries(
        st.sampled_from(["x-signature", "x-timestamp", "authorization"]), st.text(max_size=80)
    ),
)
def test_parse_and_verify_raise_only_our_errors(
    item: Any, kind: str, at: Any, headers: dict[str, str]
) -> None:
    """No body or header value makes parse/verify raise anything but a ConnectorError."""
    body = json.dumps([{**EVENT, "type": kind, "at": at, "link": item}, item]).encode()
    sent = _options(sent={"path": "type", "equals": "email.sent"}, timestamp={"format": "unix"})
    for source in (_source(), _source(sent)):
        request = _request(body, headers)
        for check in (generic.verify, generic.parse):
            with contextlib.suppress(ConnectorError):
                check(request, source)


_WORDS = st.sampled_from(
    [
        "hmac",
        "basic",
        "bearer",
        "header",
        "none",
        "X-S",
        "{body}",
        "{timestamp}.{body}",
        "hex",
        "sha1",
        "base64",
        "strftime",
        "%Y",
        "unix",
        "type",
        "$header.X-S",
        "$body.a",
        "a.0.b",
    ]
)
_OPTIONISH = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "header",
            "prefix",
            "signed",
            "algorithm",
            "encoding",
            "path",
            "equals",
            "in",
            "timestamp_header",
            "format",
            "pattern",
            "timezone",
            "occurred_at",
            "link.url",
            "metadata",
            "metadata.x",
            "link",
        ]
    ),
    _WORDS | _JSON,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    options=st.dictionaries(
        st.sampled_from(
            [*OPTIONS, "events_path", "timestamp", "provider_label", "sent", "not_clicked"]
        ),
        _OPTIONISH | _WORDS | _JSON,
    ),
    body=_JSON,
)
def test_any_options_give_problems_or_a_working_mapping(options: dict[str, Any], body: Any) -> None:
    """Arbitrary options give a list of problems, or a mapping that only raises our errors."""
    source = _source({**OPTIONS, **options}, insecure=True, bearer_tokens=("t",))
    problems = generic.check_source(source)
    assert all(isinstance(problem, str) for problem in problems)
    request = _request(json.dumps(body).encode(), {"x-s": "t", "authorization": "Bearer t"})
    with contextlib.suppress(ConnectorError):
        generic.verify(request, source)
    with contextlib.suppress(ConnectorError):
        generic.parse(request, source)
    with contextlib.suppress(ConnectorError):
        generic.sign(request.body, source, NOW)


@pytest.mark.parametrize(
    "auth",
    [{"type": "hmac", "header": "X-S"}, {"type": "basic"}, {"type": "header", "header": "X-T"}],
)
def test_sign_without_credentials_is_a_config_error(auth: dict[str, Any]) -> None:
    """`sign` for a source without the credential its auth type uses says so, never IndexError."""
    with pytest.raises(ConfigError):
        generic.sign(BODY, _source(_options(auth=auth), signing_keys=()), NOW)
