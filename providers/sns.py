"""Amazon SNS message authenticity: the URLs we may trust, the string SNS signs, its RSA check.

Used by the SES adapter (providers/amazon_ses.py), whose SES events arrive wrapped in SNS
messages, and by connector/ (certificate fetching, subscription confirmation), which call the
URL validators before any network request. The scheme
(https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html): RSA
PKCS#1 v1.5 (SHA1 for `SignatureVersion` 1, SHA256 for 2) over `Key\nValue\n` of the signed
fields, with the certificate at `SigningCertURL`, which the caller has fetched already.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connector.errors import MalformedPayload, SignatureError, WebhookError
from providers.base import WebhookRequest
from providers.signing import decode_base64

# The AWS SNS message validators' host pattern (aws-php-sns-message-validator, aws-js-...).
_SNS_HOST = re.compile(r"sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?")
_CERT_PATH = re.compile(r"/[A-Za-z0-9._\-]+\.pem")
_CONFIRM = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRM,
    "UnsubscribeConfirmation": _CONFIRM,
}
HASHES: dict[str, type[hashes.SHA1] | type[hashes.SHA256]] = {"1": hashes.SHA1, "2": hashes.SHA256}
HEADER_FIELDS = (
    ("x-amz-sns-message-type", "Type"),
    ("x-amz-sns-message-id", "MessageId"),
    ("x-amz-sns-topic-arn", "TopicArn"),
)


def check_signature(envelope: dict[str, Any], request: WebhookRequest, certificates: Any) -> None:
    """Raise `SignatureError` unless SNS signed `envelope` with a certificate in `certificates`.

    `certificates` maps validated `SigningCertURL`s to PEM text (connector/certificates.py);
    the `x-amz-sns-*` headers, when present, must agree with the body.
    """
    message = string_to_sign(envelope)
    for header, field in HEADER_FIELDS:
        value = request.header(header)
        if value is not None and value != envelope.get(field):
            raise SignatureError(f"{header} header does not match the message")
    url = signing_cert_url(envelope.get("SigningCertURL"))
    pem = certificates.get(url) if isinstance(certificates, dict) else None
    if not isinstance(pem, str):
        raise SignatureError("signing certificate not available")
    key = _public_key(pem, request.received_at)
    algorithm = HASHES.get(str(envelope.get("SignatureVersion")))
    if algorithm is None:
        raise SignatureError("unsupported SignatureVersion")
    signature = decode_base64(string_field(envelope, "Signature"), "Signature")
    try:
        key.verify(signature, message, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SignatureError("SNS signature does not match") from None


def signing_cert_url(value: Any) -> str:
    parts = _sns_url(value, "SigningCertURL", SignatureError)
    if parts.query or parts.fragment or not _CERT_PATH.fullmatch(parts.path):
        raise SignatureError("SigningCertURL is not a .pem file on an SNS host")
    return str(value)


def subscribe_url(value: Any, topic_arn: str) -> str:
    """A `SubscribeURL` that is safe to GET: an SNS ConfirmSubscription call for `topic_arn`."""
    parts = _sns_url(value, "SubscribeURL", MalformedPayload)
    query = parse_qs(parts.query)
    if parts.path not in ("", "/") or parts.fragment:
        raise MalformedPayload("SubscribeURL has an unexpected path")
    if query.get("Action") != ["ConfirmSubscription"]:
        raise MalformedPayload("SubscribeURL is not a ConfirmSubscription call")
    if query.get("TopicArn", [topic_arn]) != [topic_arn]:
        raise MalformedPayload("SubscribeURL names another topic")
    return str(value)


def _sns_url(value: Any, what: str, error: type[WebhookError]) -> SplitResult:
    if not isinstance(value, str) or not value.startswith("https://"):
        raise error(f"{what} is not an https URL")
    if not value.isascii() or any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in value):
        raise error(f"{what} contains characters a URL cannot have")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise error(f"{what} is not a URL") from None
    if not _SNS_HOST.fullmatch(parts.netloc):  # excludes userinfo and ports as well
        raise error(f"{what} is not on an sns.<region>.amazonaws.com host")
    return parts


def string_to_sign(envelope: dict[str, Any]) -> bytes:
    """`Key\\nValue\\n` for each signed field present, in AWS's (byte-sorted) order."""
    fields = SIGNED_FIELDS.get(str(envelope.get("Type")))
    if fields is None:
        raise SignatureError("unsupported SNS message Type")
    lines: list[str] = []
    for field in fields:
        if field == "Subject" and envelope.get(field) is None:
            continue  # the only optional signed field
        lines += [field, string_field(envelope, field)]
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def string_field(envelope: dict[str, Any], field: str) -> str:
    value = envelope.get(field)
    if not isinstance(value, str):
        raise SignatureError(f"SNS message has no {field}")
    return value


@lru_cache(maxsize=16)
def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


def _public_key(pem: str, now: datetime) -> rsa.RSAPublicKey:
    try:
        certificate = _certificate(pem)
    except (ValueError, UnicodeEncodeError):
        raise SignatureError("signing certificate is not a PEM X.509 certificate") from None
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SignatureError("signing certificate is not valid at this time")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("signing certificate does not hold an RSA key")
    return key
