"""SendGrid (Twilio) Event Webhook.

Delivery behaviour: a JSON array of mixed events per POST, batched per sending server (flushed
every 30 seconds or at 768 KB). Success is any 2xx; anything else is retried "at increasing
intervals for up to 24 hours after the event" (a rolling window per event), after which the
events are dropped. No status code stops the retries early; the timeout is not documented.
Duplicates and out-of-order batches are normal.
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook

Authenticity (Signed Event Webhook): `X-Twilio-Email-Event-Webhook-Signature` is the base64
DER ECDSA P-256/SHA-256 signature over `X-Twilio-Email-Event-Webhook-Timestamp` + raw body.
Each webhook has its own key pair; `public_keys` holds the public key as SendGrid shows it
(base64 DER SubjectPublicKeyInfo) or as PEM. The optional OAuth 2.0 mode sends
`Authorization: Bearer <token>`; when `bearer_tokens` is set it is required as well.
https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
Only SendGrid holds the private key, so `sign` needs `options.test_private_key` (PEM).

Replay window: SendGrid does not say whether a retry is signed again with a fresh timestamp,
and it retries for 24 hours, so the default tolerance is 25 hours. Replays inside the window
are harmless: events are de-duplicated on `sg_event_id` ("use for deduplication").

Mapping: `click` and `delivered`, plus `processed` as `email.sent`: SendGrid fires it "when
SendGrid receives an individual message and prepares it to be delivered", one per recipient,
before any `delivered`/`bounce` (https://sendgrid.com/blog/the-nine-events-of-email/; the event
reference lists it under delivery events). It carries the same recipient, message id, custom
args and campaign ids as `delivered`. Other types (`open`, `deferred`, ...) are ignored.

Event ids: `sg_event_id`; an item without one (never seen) falls back to
`composite_key(sg_message_id, email, url, timestamp)`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connector.errors import ConfigError, MalformedPayload, SignatureError
from providers.base import ParseResult, Source, Verified, WebhookRequest, by_field, collect
from providers.normalize import (
    agent,
    dig,
    link_fields,
    load_json,
    origin,
    tags,
    text,
    to_utc,
    url_field,
)
from providers.signing import (
    blank_credential_problems,
    check_authorization,
    check_freshness,
    decode_base64,
    parse_epoch,
)
from schemas import composite_key
from schemas.compiled import CompiledEvent, build_event

name = "sendgrid"
title = "SendGrid"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
DEFAULT_TOLERANCE = 25 * 3600
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# `event` -> our type; https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event
# (`processed`: accepted by SendGrid and queued for delivery, so `email.sent`)
EVENT_TYPES: dict[str, str] = {
    "click": "email.clicked",
    "delivered": "email.delivered",
    "processed": "email.sent",
}

# SendGrid merges custom args into each event's top level, so every key that is not one of
# SendGrid's own is sender metadata (same approach as django-anymail's sendgrid webhook).
# fmt: off
SENDGRID_KEYS = frozenset({
    "asm_group_id", "attempt", "bounce_classification", "category", "cert_err", "email",
    "event", "ip", "marketing_campaign_id", "marketing_campaign_name",
    "marketing_campaign_split_id", "marketing_campaign_version", "mc_auto_id", "mc_auto_name",
    "mc_auto_step_id", "mc_pod_id", "mc_stats", "newsletter", "phase_id", "pool", "post_type",
    "reason", "response", "send_at", "sg_content_type", "sg_event_id", "sg_machine_open",
    "sg_message_id", "sg_template_id", "sg_template_name", "sg_user_id", "singlesend_id",
    "singlesend_name", "smtp-id", "status", "template_hash", "template_id", "template_name",
    "template_version_id", "timestamp", "tls", "type", "url", "url_offset", "useragent",
})
# fmt: on


def check_source(source: Source) -> list[str]:
    if not source.public_keys and not source.bearer_tokens:
        return ["public_keys: SendGrid needs the Signed Event Webhook's verification key"]
    problems = []
    for index, key in enumerate(source.public_keys):
        try:
            _public_key(key)
        except ValueError:
            problems.append(f"public_keys[{index}]: not a P-256 public key (base64 DER or PEM)")
    if "test_private_key" in source.options:
        try:
            _private_key(source.options["test_private_key"])
        except ConfigError as error:
            problems += error.problems
    return problems + blank_credential_problems(source)


@lru_cache(maxsize=64)
def _public_key(value: str) -> ec.EllipticCurvePublicKey:
    """A P-256 key from SendGrid's base64 DER form or PEM (`ValueError` otherwise)."""
    try:
        if "-----BEGIN" in value:
            key = serialization.load_pem_public_key(value.strip().encode("ascii"))
        else:
            der = base64.b64decode("".join(value.split()), validate=True)
            key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError) as error:
        raise ValueError("not a public key") from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not a P-256 key")
    return key


def _matching_public_key(keys: tuple[str, ...], signature: bytes, message: bytes) -> int | None:
    found: int | None = None
    for index, value in enumerate(keys):
        try:
            _public_key(value).verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            continue
        found = index if found is None else found
    return found


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def verify(request: WebhookRequest, source: Source) -> Verified:
    labels: list[str] = []
    if source.public_keys:
        signature = decode_base64(request.header(SIGNATURE_HEADER), f"{SIGNATURE_HEADER} header")
        timestamp = request.header(TIMESTAMP_HEADER)
        signed_at = parse_epoch(timestamp, f"{TIMESTAMP_HEADER} header")
        assert timestamp is not None  # parse_epoch raised otherwise
        message = timestamp.encode("utf-8", "replace") + request.body
        index = _matching_public_key(source.public_keys, signature, message)
        if index is None:
            raise SignatureError(f"{SIGNATURE_HEADER} does not verify with any public key")
        check_freshness(
            signed_at, request.received_at, source.timestamp_tolerance or DEFAULT_TOLERANCE
        )
        labels.append(f"public_keys[{index}]")
    if source.bearer_tokens:
        labels.append(
            check_authorization(request.header("authorization"), (), source.bearer_tokens)
        )
    if not labels:
        raise SignatureError("source has no SendGrid credentials")
    return Verified(credential="+".join(labels))


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    headers: dict[str, str] = {}
    if source.public_keys:
        if "test_private_key" not in source.options:
            raise NotImplementedError("only SendGrid holds the signing key; set test_private_key")
        key = _private_key(source.options["test_private_key"])
        timestamp = str(int(now.timestamp()))
        signature = key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = base64.b64encode(signature).decode("ascii")
    if source.bearer_tokens:
        headers["Authorization"] = f"Bearer {source.bearer_tokens[0]}"
    return headers


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the signature travels in headers (`sign`)."""
    return body


def _private_key(pem: Any) -> ec.EllipticCurvePrivateKey:
    """The throwaway key fixtures and `send-sample` sign with (never SendGrid's own)."""
    try:
        key = serialization.load_pem_private_key(str(pem).encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError(["options.test_private_key: not a PEM EC private key"])
    return key


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    items = load_json(request.body)
    if not isinstance(items, list):
        raise MalformedPayload("expected a JSON array of SendGrid events")
    kind_of = partial(by_field, EVENT_TYPES, "event")
    return collect(items, kind_of, partial(_event, request=request))


def _event(kind: str, item: dict[str, Any], request: WebhookRequest) -> CompiledEvent:
    message_id = text(item.get("sg_message_id")) or text(item.get("smtp-id"))
    url = url_field(item.get("url"))
    provider_event_id = text(item.get("sg_event_id")) or composite_key(
        message_id, text(item.get("email")), url, item.get("timestamp")
    )
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, to_utc(item.get("timestamp"))),
        "recipient": {"email": text(item.get("email"))},
        "message": {"id": message_id, "campaign_id": _campaign(item)},
        "metadata": _metadata(item),
    }
    if kind != "email.clicked":  # delivered and processed share the envelope fields
        return build_event(kind, common)
    if url is None:
        raise MalformedPayload("click event has no url")
    position = dig(item, "url_offset", "index")
    return build_event(
        "email.clicked",
        {
            **common,
            "link": link_fields(url, position=position if _is_index(position) else None),
            "client": {"user_agent": agent(item.get("useragent")), "ip": text(item.get("ip"))},
        },
    )


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _campaign(item: dict[str, Any]) -> str | None:
    keys = ("singlesend_id", "marketing_campaign_id", "mc_auto_id")
    return next((text(item[key]) for key in keys if text(item.get(key))), None)


def _metadata(item: dict[str, Any]) -> dict[str, Any]:
    """Custom args (merged at top level by SendGrid) plus categories as `tags`."""
    found = {key: value for key, value in item.items() if key not in SENDGRID_KEYS}
    categories = tags(item.get("category"))
    if categories:
        found["tags"] = categories
    return found
