"""A generic source's authenticity check (`verify`) and its mirror image (`sign`).

HMAC over a configured template, HTTP Basic, a bearer token or a named header token, as
`options.auth` declares; `allowed_ips` is checked first for every type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime

from connector.errors import ConfigError, MalformedPayload, SignatureError
from providers.base import Source, Verified, WebhookRequest
from providers.generic.spec import _Auth, _spec
from providers.normalize import to_utc
from providers.signing import (
    basic_auth_user_pass,
    bearer_token,
    check_freshness,
    check_ip,
    check_secret,
    hmac_digest,
    matching_key,
    parse_epoch,
)

DEFAULT_TOLERANCE = 300
_SIGNATURE_CHARS = r"([A-Za-z0-9+/=_-]+)"
_MAX_CANDIDATES = 16


def verify(request: WebhookRequest, source: Source) -> Verified:
    auth = _spec(source).auth
    try:
        check_ip(request.client_ip, source.allowed_ips)
    except ValueError:
        raise ConfigError([f"sources ({source.id}).allowed_ips: not a network"]) from None
    if auth.type == "hmac":
        return _verify_hmac(auth, request, source)
    if auth.type == "basic":
        pair = basic_auth_user_pass(request.header("authorization"))
        index = check_secret(pair, source.basic_auth, "basic auth credentials")
        return Verified(f"basic_auth[{index}]")
    if auth.type == "bearer":
        token = bearer_token(request.header("authorization"))
        index = check_secret(token, source.bearer_tokens, "bearer token")
        return Verified(f"bearer_tokens[{index}]")
    if auth.type == "header":
        value = request.header(auth.header)
        if value is not None and auth.prefix and value.startswith(auth.prefix):
            value = value[len(auth.prefix) :]
        index = check_secret(value, source.bearer_tokens, f"{auth.header} header")
        return Verified(f"bearer_tokens[{index}]")
    if not source.insecure:  # check_source refuses this; never accept anyone by accident
        raise ConfigError([f'sources ({source.id}).options.auth.type: "none" needs insecure'])
    return Verified("none (insecure source)")


def _verify_hmac(auth: _Auth, request: WebhookRequest, source: Source) -> Verified:
    signed_at = None
    if auth.timestamp_header:
        signed_at = _signed_at(request.header(auth.timestamp_header), auth.timestamp_header)
    candidates = _candidates(request.header(auth.header), auth)
    message = _message(auth, request, source)
    for candidate in candidates:
        index = matching_key(source.signing_keys, candidate, message, algorithm=auth.algorithm)
        if index is not None:
            break
    else:
        raise SignatureError(f"{auth.header} header does not match any signing key")
    if signed_at is not None:
        tolerance = source.timestamp_tolerance or DEFAULT_TOLERANCE
        check_freshness(signed_at, request.received_at, tolerance)
    return Verified(credential=f"signing_keys[{index}]")


def _signed_at(value: str | None, header: str) -> float:
    """Unix seconds or milliseconds, or an ISO-8601 time, from the timestamp header."""
    try:
        return parse_epoch(value, f"{header} header")
    except SignatureError:
        if value is None or not value.strip():
            raise
    try:
        return to_utc(value.strip()).timestamp()
    except MalformedPayload:
        raise SignatureError(f"{header} header is not a Unix or ISO-8601 time") from None


def _candidates(value: str | None, auth: _Auth) -> list[bytes]:
    """Every signature in the header: senders rotating keys may send several."""
    if not value or not value.strip():
        raise SignatureError(f"missing {auth.header} header")
    if auth.prefix:
        found = re.findall(re.escape(auth.prefix) + _SIGNATURE_CHARS, value)
    else:
        found = [part for part in re.split(r"[\s,]+", value.strip()) if part]
    decoded = [_decode(item, auth.encoding) for item in found[:_MAX_CANDIDATES]]
    candidates = [item for item in decoded if item]
    if not candidates:
        raise SignatureError(f"{auth.header} header holds no {auth.encoding} signature")
    return candidates


def _decode(value: str, encoding: str) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(value)
        padded = value + "=" * (-len(value) % 4)
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (ValueError, binascii.Error):
        return None


def _message(auth: _Auth, request: WebhookRequest, source: Source) -> bytes:
    parts: list[bytes] = []
    for kind, arg in auth.signed:
        if kind == "text":
            parts.append(arg.encode("utf-8"))
        elif kind == "body":
            parts.append(request.body)
        elif kind == "url":
            parts.append((source.url or request.url).encode("utf-8"))
        else:
            value = request.header(arg)
            if value is None:
                raise SignatureError(f"missing {arg} header")
            parts.append(_header_bytes(value))
    return b"".join(parts)


def _header_bytes(value: str) -> bytes:
    """The header as sent: ASGI servers decode header bytes as Latin-1."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """Headers a sender configured like `source` would send (for `send-sample` and tests)."""
    auth = _spec(source).auth
    if auth.type == "none":
        return {}
    field = {"hmac": "signing_keys", "basic": "basic_auth"}.get(auth.type, "bearer_tokens")
    secrets: tuple[str, ...] = getattr(source, field)
    if not secrets:
        raise ConfigError([f"sources ({source.id}).{field}: nothing to sign with"])
    if auth.type == "basic":
        return {"Authorization": "Basic " + base64.b64encode(secrets[0].encode()).decode()}
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {secrets[0]}"}
    if auth.type == "header":
        return {auth.header: auth.prefix + secrets[0]}
    sample = "sample-" + hashlib.sha256(body).hexdigest()[:16]
    headers = {arg: sample for kind, arg in auth.signed if kind == "header"}
    if auth.timestamp_header:
        headers[auth.timestamp_header] = str(int(now.timestamp()))
    lowered = {key.lower(): value for key, value in headers.items()}
    request = WebhookRequest(source.id, "POST", source.url or "", lowered, body, None, now)
    digest = hmac_digest(secrets[0], _message(auth, request, source), auth.algorithm)
    encoded = digest.hex() if auth.encoding == "hex" else base64.b64encode(digest).decode()
    return {**headers, auth.header: auth.prefix + encoded}
