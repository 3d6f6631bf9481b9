"""Postal quirks: public-key formats, SHA-256 vs legacy SHA-1 headers, no default window."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers import postal
from tests.providers.sent import sent_events
from tests.support.fixtures import cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("postal")}
CLICK, LEGACY = CASES["click"], CASES["legacy-click"]
PRIVATE = serialization.load_pem_private_key(
    CLICK.source().options["test_private_key"].encode(), password=None
)
assert isinstance(PRIVATE, rsa.RSAPrivateKey)
PUBLIC = PRIVATE.public_key()
JSON = json_values(8)
EVENTS = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["MessageLinkClicked", "MessageSent", "MessageBounced"]),
        "payload": st.dictionaries(st.sampled_from(["message", "url", "token", "ip_address"]), JSON)
        | JSON,
    },
    optional={"uuid": JSON, "timestamp": JSON},
)


def _pem(fmt: serialization.PublicFormat) -> str:
    return PUBLIC.public_bytes(serialization.Encoding.PEM, fmt).decode()


def _b64url(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _key_forms() -> dict[str, str]:
    bare = CLICK.source().public_keys[0]
    numbers = PUBLIC.public_numbers()
    jwk = {
        "kty": "RSA",
        "kid": "k1",
        "use": "sig",
        "e": _b64url(numbers.e),
        "n": _b64url(numbers.n),
    }
    record = f'"v=DKIM1; t=s; h=sha256; p={bare[:100]}" "{bare[100:]}"'
    return {
        "bare base64 DER": bare,
        "DKIM-style record in quoted TXT chunks": record,
        "PEM SubjectPublicKeyInfo": _pem(serialization.PublicFormat.SubjectPublicKeyInfo),
        "PEM PKCS#1": _pem(serialization.PublicFormat.PKCS1),
        "JWK": json.dumps(jwk),
        "JWKS from /.well-known/jwks.json": json.dumps({"keys": [{"kty": "EC"}, jwk]}),
    }


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("dana@example.org", "dana@example.org"),
        ('"Dana Example" <dana@example.org>', "dana@example.org"),
        ("Dana Example <dana@example.org>", "dana@example.org"),
        ("<dana@example.org>", "dana@example.org"),
        ("  dana@example.org  ", "dana@example.org"),
        ("not an address", "not an address"),
        ("", None),
    ],
)
@pytest.mark.parametrize("event", ["MessageLinkClicked", "MessageSent"])
def test_recipient_is_the_bare_address(event: str, to: str, expected: str | None) -> None:
    """`payload.message.to` with a display name is stored as the bare address, for every event."""
    payload = json.loads(CASES["click-display-name"].body)
    payload["event"] = event
    payload["payload"]["message"]["to"] = to
    body = json.dumps(payload).encode()
    events = postal.parse(CLICK.request(body=body), CLICK.source()).events
    assert [parsed.event.recipient.email for parsed in events] == [expected]


@pytest.mark.parametrize(("name", "deliveries"), [("delivered", 1), ("incoming-sent", 0)])
def test_message_sent_is_the_delivery_report_not_email_sent(name: str, deliveries: int) -> None:
    """`MessageSent` (delivered to the recipient's server) is email.delivered, never email.sent."""
    result = postal.parse(CASES[name].request(), CASES[name].source())
    assert [parsed.event.type for parsed in result.events] == ["email.delivered"] * deliveries
    assert sent_events(postal, CASES[name]) == []


@pytest.mark.parametrize("form", sorted(_key_forms()))
def test_public_key_is_accepted_in_every_published_form(form: str) -> None:
    """PEM, bare DER, the DNS-record style Postal shows and its JWKS all verify the same request."""
    source = replace(CLICK.source(), public_keys=(_key_forms()[form],))
    assert postal.check_source(source) == []
    assert postal.verify(CLICK.request(), source).credential == "public_keys[0]"


def test_rotated_keys_name_the_one_that_matched() -> None:
    """With a new key listed first, the old key still verifies and is named."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    source = replace(CLICK.source(), public_keys=(pem, *CLICK.source().public_keys))
    assert postal.verify(CLICK.request(), source).credential == "public_keys[1]"


def test_sha1_header_alone_is_accepted_for_old_postal() -> None:
    """Older Postal releases send only X-Postal-Signature (RSA-SHA1)."""
    assert "X-Postal-Signature-256" not in LEGACY.headers
    assert postal.verify(LEGACY.request(), LEGACY.source()).credential == "public_keys[0]"


def test_bad_sha256_signature_does_not_fall_back_to_sha1() -> None:
    """When the SHA-256 header is present it must verify: no downgrade to the SHA-1 header."""
    headers = {**CLICK.headers, "X-Postal-Signature-256": CLICK.headers["X-Postal-Signature"]}
    with pytest.raises(SignatureError):
        postal.verify(CLICK.request(headers=headers), CLICK.source())


def test_check_source_refuses_unreadable_and_non_rsa_keys() -> None:
    """A key that is not RSA, or not a key at all, fails closed at start-up."""
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for value in ("not a key", ec_pem, '{"keys": []}'):
        problems = postal.check_source(replace(CLICK.source(), public_keys=(value,)))
        assert problems[0].startswith("public_keys[0]")
    assert postal.check_source(replace(CLICK.source(), public_keys=()))[0].startswith("public_keys")


def test_sign_needs_the_test_private_key() -> None:
    """Only the Postal server holds its key; `sign` works only with options.test_private_key."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    headers = postal.sign(CLICK.body, CLICK.source(), now)
    assert headers["X-Postal-Signature-256"] == CLICK.headers["X-Postal-Signature-256"]
    with pytest.raises(NotImplementedError):
        postal.sign(CLICK.body, replace(CLICK.source(), options={}), now)


def test_no_replay_window_unless_a_tolerance_is_set() -> None:
    """The signed body `timestamp` bounds replays only when timestamp_tolerance is configured."""
    late = CLICK.request(received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert postal.verify(late, CLICK.source()).credential
    with pytest.raises(SignatureError) as error:
        postal.verify(late, replace(CLICK.source(), timestamp_tolerance=86400))
    assert error.value.reason == "stale"
    assert postal.verify(CLICK.request(), replace(CLICK.source(), timestamp_tolerance=86400))


def test_allowed_ips_are_enforced() -> None:
    """A configured allow-list (the Postal server's address) refuses other callers."""
    with pytest.raises(ForbiddenSource):
        postal.verify(CLICK.request(), replace(CLICK.source(), allowed_ips=("10.0.0.0/8",)))


@settings(max_examples=100, derandomize=True, database=None)
@given(
    body=st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | EVENTS.map(lambda v: json.dumps(v).encode())
)
def test_parse_of_arbitrary_bodies_raises_only_malformed(body: bytes) -> None:
    """Any bytes, JSON or event-shaped object into `parse` give a result or MalformedPayload."""
    try:
        result = postal.parse(CLICK.request(body=body), CLICK.source())
    except MalformedPayload:
        return
    assert len(result.events) + len(result.ignored) + len(result.rejected) == 1


_NAMES = st.sampled_from(["x-postal-signature-256", "x-postal-signature"])


@settings(max_examples=100, derandomize=True, database=None)
@given(headers=st.dictionaries(_NAMES | st.text(max_size=10), st.text(max_size=80)))
def test_verify_of_arbitrary_headers_raises_only_auth_errors(headers: dict[str, str]) -> None:
    """Any headers into `verify` give a label or SignatureError, nothing else."""
    try:
        verified = postal.verify(CLICK.request(headers=headers), CLICK.source())
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential == "public_keys[0]"


@settings(max_examples=50, derandomize=True, database=None)
@given(body=st.binary(max_size=100) | EVENTS.map(lambda v: json.dumps(v).encode()))
def test_window_check_on_signed_arbitrary_bodies_raises_only_signature_errors(body: bytes) -> None:
    """With the opt-in window, a correctly signed body without a usable time is refused cleanly."""
    source = replace(CLICK.source(), timestamp_tolerance=86400)
    signature = PRIVATE.sign(body, padding.PKCS1v15(), hashes.SHA256())
    headers = {"X-Postal-Signature-256": base64.b64encode(signature).decode()}
    try:
        verified = postal.verify(CLICK.request(body=body, headers=headers), source)
    except SignatureError:
        return
    assert verified.credential == "public_keys[0]"
