"""Postal (self-hosted, postalserver/postal) webhooks.

Delivery behaviour (https://docs.postalserver.io/developer/webhooks, and
app/services/webhook_delivery_service.rb): one JSON object per POST,
`{"event", "timestamp", "uuid", "payload"}`. Success is any 2xx within 5 seconds; redirects are
not followed. A failure is retried after 2, 3, 6, 10 and 15 minutes (6 attempts, about 36
minutes), then discarded; webhooks are never disabled for failing. `uuid` and `timestamp` (when
the event was queued) are the same on every attempt.

Authenticity: Postal signs the raw body with its server RSA key (PKCS#1 v1.5):
`X-Postal-Signature-256` (SHA-256, preferred) and the legacy `X-Postal-Signature` (SHA-1,
accepted only when the SHA-256 header is absent, as from older Postal releases whose
lib/postal/http.rb set only that header). Configure the public key in `public_keys` as PEM, as
bare base64 DER (the `p=` value Postal shows in its DKIM-style DNS record; a whole
`v=DKIM1; ...; p=...` record works too) or as the JWK / JWKS JSON from
`https://<postal-host>/.well-known/jwks.json`. We never fetch keys (no network here), so list the
new key before Postal rotates; every configured key is tried. `X-Postal-Signature-KID` is not
needed for that and is ignored.

Replay window: none by default. The signature covers no header timestamp; the signed body's
`timestamp` could bound replays, but `send-sample` posts stored fixtures as they are and Postal
queues can back up, so events are de-duplicated by `uuid` instead. Setting
`timestamp_tolerance` opts in to a window on the signed body `timestamp` (keep it above Postal's
36-minute retry span).

Mapping: `MessageLinkClicked`, and `MessageSent` as `email.delivered` despite its name: it fires
"when a message is successfully delivered to a recipient/endpoint" (status `Sent`, with the
remote server's SMTP reply in `output`; postalserver/docs content/4.developer/4.webhooks.md,
"Message Status Events"). Postal has no webhook for accepting a message into its queue, so a
Postal source never produces `email.sent`. `MessageSent` counts for outgoing mail only; Postal
fires it for incoming mail routed to endpoints too, which is not a delivery to a recipient and
is ignored.

Recipient: `payload.message.to`, stored as the bare address when it carries a display name
(`"Dana" <dana@example.org>`), as every other provider stores it. Event id: `uuid`. Metadata:
`tag` and `message_id` (the RFC Message-ID that Postal's send API returns); `message.id` is
Postal's per-recipient id.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connector.errors import MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, collect
from providers.normalize import (
    agent,
    bare_address,
    dig,
    link_fields,
    load_json,
    origin,
    text,
    to_utc,
)
from providers.signing import check_freshness, check_ip, decode_base64
from schemas.compiled import CompiledEvent, build_event

name = "postal"
title = "Postal"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)

# Postal `event` -> ours; https://docs.postalserver.io/developer/webhooks (`MessageSent` is the
# delivery report, so `email.delivered`; there is no earlier "accepted" event)
EVENT_TYPES: dict[str, str] = {
    "MessageLinkClicked": "email.clicked",
    "MessageSent": "email.delivered",
}
_SIGNATURE_HEADERS: tuple[tuple[str, hashes.HashAlgorithm], ...] = (
    ("X-Postal-Signature-256", hashes.SHA256()),
    ("X-Postal-Signature", hashes.SHA1()),  # noqa: S303 - Postal's legacy header
)


def check_source(source: Source) -> list[str]:
    if not source.public_keys:
        return ["public_keys: Postal needs the server's public signing key"]
    problems: list[str] = []
    for index, value in enumerate(source.public_keys):
        try:
            load_public_keys(value)
        except ValueError as error:
            problems.append(f"public_keys[{index}]: {error}")
    key = source.options.get("test_private_key")
    if key is not None and not isinstance(key, str):
        problems.append("options.test_private_key: expected a PEM string")
    return problems


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    check_ip(request.client_ip, source.allowed_ips)
    # the SHA-1 header counts only when the SHA-256 one is absent (older Postal releases)
    header, algorithm = next(
        ((name, algo) for name, algo in _SIGNATURE_HEADERS if request.header(name)),
        _SIGNATURE_HEADERS[0],
    )
    value = request.header(header)
    signature = decode_base64(value, f"{header} header")
    index = _matching_key(source.public_keys, signature, request.body, algorithm)
    if index is None:
        raise SignatureError(f"{header} does not match any public key")
    if source.timestamp_tolerance:
        check_freshness(_signed_time(request.body), request.received_at, source.timestamp_tolerance)
    return Verified(credential=f"public_keys[{index}]")


def _matching_key(
    values: tuple[str, ...], signature: bytes, body: bytes, algorithm: hashes.HashAlgorithm
) -> int | None:
    for index, value in enumerate(values):
        try:
            keys = load_public_keys(value)
        except ValueError:
            continue  # reported by check_source at start-up
        for key in keys:
            try:
                key.verify(signature, body, padding.PKCS1v15(), algorithm)
            except (InvalidSignature, ValueError):
                continue
            return index
    return None


@lru_cache(maxsize=64)
def load_public_keys(value: str) -> tuple[rsa.RSAPublicKey, ...]:
    """RSA keys from PEM, JWK/JWKS JSON, a DKIM-style `p=` record or bare base64 DER."""
    value = value.strip()
    try:
        if value.startswith("-----BEGIN"):
            keys: list[Any] = [serialization.load_pem_public_key(value.encode("ascii"))]
        elif value.startswith("{"):
            keys = _jwk_keys(orjson.loads(value))
        else:
            keys = [serialization.load_der_public_key(_record_base64(value))]
    except (ValueError, TypeError, KeyError, UnsupportedAlgorithm, orjson.JSONDecodeError):
        raise ValueError("not a readable public key (PEM, base64 DER, p= record or JWK)") from None
    if not keys or not all(isinstance(key, rsa.RSAPublicKey) for key in keys):
        raise ValueError("not an RSA public key")
    return tuple(keys)


def _record_base64(value: str) -> bytes:
    """DER from a DNS-record-style value: `v=DKIM1; h=sha256; p=MIIB...` or just `MIIB...`."""
    if ";" in value or value.startswith(("v=", "p=")):
        tags = dict(part.strip().partition("=")[::2] for part in value.split(";"))
        value = tags.get("p", "")
    cleaned = "".join(ch for ch in value if ch not in '" \t\r\n')  # TXT chunks, wrapping
    try:
        return base64.b64decode(cleaned, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None


def _jwk_keys(data: Any) -> list[rsa.RSAPublicKey]:
    """RSA keys of a JWK or of a JWKS (`{"keys": [...]}`), as Postal serves at jwks.json."""
    found = data.get("keys") if isinstance(data, dict) and "keys" in data else [data]
    if not isinstance(found, list):
        raise ValueError("JWKS keys is not a list")
    return [
        rsa.RSAPublicNumbers(_b64url_int(jwk["e"]), _b64url_int(jwk["n"])).public_key()
        for jwk in found
        if isinstance(jwk, dict) and jwk.get("kty") == "RSA"
    ]


def _b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def _signed_time(body: bytes) -> float:
    """The envelope's `timestamp`: signed with the body, fixed across retries."""
    try:
        payload = load_json(body)
        return to_utc(dig(payload, "timestamp")).timestamp()
    except MalformedPayload:
        raise SignatureError("signed body has no readable timestamp") from None


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """Sign with `options.test_private_key`; real traffic is signed by the Postal server."""
    pem = source.options.get("test_private_key")
    if not isinstance(pem, str):
        raise NotImplementedError("Postal signs with its server key; set options.test_private_key")
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise NotImplementedError("options.test_private_key must be an RSA key")
    sha256 = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    sha1 = key.sign(body, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - Postal's legacy header
    return {
        "X-Postal-Signature-256": base64.b64encode(sha256).decode("ascii"),
        "X-Postal-Signature": base64.b64encode(sha1).decode("ascii"),
    }


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise MalformedPayload("expected a Postal webhook object")
    return collect([payload], _kind, partial(_event, request=request))


def _kind(item: dict[str, Any]) -> tuple[str | None, str]:
    """`MessageSent` for incoming mail is a routing, not a delivery: counted apart, ignored."""
    event = text(item.get("event")) or ""
    kind = EVENT_TYPES.get(event)
    if kind is not None and dig(item, "payload", "message", "direction") == "incoming":
        return None, f"{event} (incoming)"
    return kind, event


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    provider_event_id = text(item.get("uuid"))
    if provider_event_id is None:
        raise MalformedPayload("uuid is missing")
    body = item.get("payload")
    if not isinstance(body, dict):
        raise MalformedPayload("payload is not an object")
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    assert isinstance(message, dict)
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(item.get("timestamp"))),
        "recipient": {"email": bare_address(message.get("to"))},  # "Name <addr>" -> addr
        "message": {"id": text(message.get("id")), "subject": text(message.get("subject"))},
        "metadata": {key: message[key] for key in ("tag", "message_id") if text(message.get(key))},
    }
    if kind == "email.delivered":
        return build_event(kind, common)
    url = text(body.get("url"))
    if url is None:
        raise MalformedPayload("MessageLinkClicked has no payload.url")
    common["link"] = link_fields(url, id=body.get("token"))
    common["client"] = {
        "user_agent": agent(body.get("user_agent")),
        "ip": text(body.get("ip_address")),
    }
    return build_event(kind, common)
