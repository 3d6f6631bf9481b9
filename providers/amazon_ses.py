"""Amazon SES event publishing, delivered by an SNS HTTPS subscription.

Delivery (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html): one SNS
message per POST, `Content-Type: text/plain`, the SES event a JSON *string* in `Message`.
Timeout 15 s. **Any 4xx counts as delivered and is never retried**; 5xx and timeouts are
retried (default 3 times, 20 s apart; a delivery policy can stretch that to 3,600 s in all).
So 400/401/403 drop a message for good (right for forged or foreign ones); only 503 retries.

Authenticity (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):
RSA PKCS#1 v1.5 (SHA1 for `SignatureVersion` 1, SHA256 for 2) over `Key\nValue\n` of the
signed fields, with the certificate at `SigningCertURL`. `verify` is pure: the app calls
`certificate_url(request)` (validated: https, host `sns.<region>.amazonaws.com[.cn]`, no
userinfo/port/query, one path segment ending `.pem`) and puts the PEM into
`source.options["certificates"]` (url -> PEM; connector/certificates.py) first. AWS signs
*every* topic's messages, so `TopicArn` must be in `topic_arns` (403). `x-amz-sns-*` headers
must agree with the body when present. Raw message delivery (unsigned) is not supported.

Replay window: the signed `Timestamp` is the publish time; retries resend the same message
and SNS gives up within an hour, so the default tolerance is 3,600 s + 15 min. Replays inside
it are acknowledged duplicates (dedup on `MessageId`, the event id).

`SubscriptionConfirmation` for an allowed topic adds a `ControlTask("sns.confirm_subscription",
{url, topic_arn})` (connector/control.py runs it after we answer); `UnsubscribeConfirmation`
and SES's plain-text "Successfully validated SNS topic" notice are acknowledged. An SES click
belongs to the whole message: `recipient.email` is set only when `mail.destination` (for
deliveries `delivery.recipients`) holds one address, else it is None and the list is in
`metadata["destination"]`. Deliveries from the older SES notifications (`notificationType`)
are accepted too. `sign` returns the SNS headers only: the signature is inside the body, so
`send-sample` posts the fixture's signed bytes unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, NoReturn
from urllib.parse import SplitResult, parse_qs, urlsplit

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError, WebhookError
from providers.base import ControlTask, ParseResult, Source, Verified, WebhookRequest
from providers.normalize import dig, link, load_json, text, to_utc
from providers.signing import check_freshness, decode_base64
from schemas import Client, EmailClicked, EmailDelivered, Message, Recipient, event_id

name = "amazon_ses"
title = "Amazon SES (via SNS)"
DEFAULT_TOLERANCE = 3600 + 900

# SES eventType (or notificationType) -> ours;
# https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
EVENT_TYPES: dict[str, str] = {"Click": "email.clicked", "Delivery": "email.delivered"}
VALIDATION_NOTICE = "Successfully validated SNS topic"  # "... for Amazon SES event publishing."

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
_HEADER_FIELDS = (
    ("x-amz-sns-message-type", "Type"),
    ("x-amz-sns-message-id", "MessageId"),
    ("x-amz-sns-topic-arn", "TopicArn"),
)


def check_source(source: Source) -> list[str]:
    problems: list[str] = []
    if not source.topic_arns:
        problems.append("topic_arns: Amazon SES needs the SNS topic ARNs it may receive from")
    certificates = source.options.get("certificates", {})
    if not isinstance(certificates, dict) or not _strings([*certificates, *certificates.values()]):
        problems.append("options.certificates: must map certificate URLs to PEM text")
    if not _strings(source.options.get("certificate_files", [])):
        problems.append("options.certificate_files: must be a list of file paths")
    return problems


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def certificate_url(request: WebhookRequest) -> str | None:
    """The validated `SigningCertURL` the app must fetch (or find on disk) before `verify`."""
    value = _envelope(request.body).get("SigningCertURL")
    return None if value is None else signing_cert_url(value)


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


def verify(request: WebhookRequest, source: Source) -> Verified:
    envelope = _envelope(request.body)
    message = string_to_sign(envelope)
    for header, field in _HEADER_FIELDS:
        value = request.header(header)
        if value is not None and value != envelope.get(field):
            raise SignatureError(f"{header} header does not match the message")
    url = signing_cert_url(envelope.get("SigningCertURL"))
    certificates = source.options.get("certificates")
    pem = certificates.get(url) if isinstance(certificates, dict) else None
    if not isinstance(pem, str):
        raise SignatureError("signing certificate not available")
    key = _public_key(pem, request.received_at)
    algorithm = HASHES.get(str(envelope.get("SignatureVersion")))
    if algorithm is None:
        raise SignatureError("unsupported SignatureVersion")
    signature = decode_base64(_string(envelope, "Signature"), "Signature")
    try:
        key.verify(signature, message, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise SignatureError("SNS signature does not match") from None
    index = _topic_index(envelope, source)
    try:
        signed_at = to_utc(_string(envelope, "Timestamp")).timestamp()
    except MalformedPayload:
        raise SignatureError("Timestamp is not ISO-8601") from None
    check_freshness(signed_at, request.received_at, source.timestamp_tolerance or DEFAULT_TOLERANCE)
    return Verified(credential=f"topic_arns[{index}]")


def string_to_sign(envelope: dict[str, Any]) -> bytes:
    """`Key\\nValue\\n` for each signed field present, in AWS's (byte-sorted) order."""
    fields = SIGNED_FIELDS.get(str(envelope.get("Type")))
    if fields is None:
        raise SignatureError("unsupported SNS message Type")
    lines: list[str] = []
    for field in fields:
        if field == "Subject" and envelope.get(field) is None:
            continue  # the only optional signed field
        lines += [field, _string(envelope, field)]
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def _string(envelope: dict[str, Any], field: str) -> str:
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


def _topic_index(envelope: dict[str, Any], source: Source) -> int:
    topic = envelope.get("TopicArn")
    if not isinstance(topic, str) or topic not in source.topic_arns:
        raise ForbiddenSource("SNS topic is not in topic_arns")
    return source.topic_arns.index(topic)


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """The headers SNS sends with `body`; the signature itself is inside the body."""
    envelope = _envelope(body)
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    for header, field in _HEADER_FIELDS:
        if isinstance(envelope.get(field), str):
            headers[header] = envelope[field]
    return headers


def _envelope(body: bytes) -> dict[str, Any]:
    payload = load_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("Type"), str):
        raise MalformedPayload("expected an SNS message: a JSON object with a Type")
    return payload


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    envelope = _envelope(request.body)
    topic = source.topic_arns[_topic_index(envelope, source)]
    result = ParseResult()
    kind = envelope["Type"]
    if kind == "SubscriptionConfirmation":
        url = subscribe_url(envelope.get("SubscribeURL"), topic)
        result.tasks.append(
            ControlTask("sns.confirm_subscription", {"url": url, "topic_arn": topic})
        )
    if kind != "Notification":
        result.ignored.append(f"sns.{kind}")
        return result
    message = envelope.get("Message")
    if isinstance(message, str) and message.startswith(VALIDATION_NOTICE):
        result.ignored.append("ses.validation")
        return result
    ses_event = _ses_event(message)
    if ses_event is None:
        result.add(0, message, partial(_refuse, "SNS Message is not an SES event"))
        return result
    ses_type = text(ses_event.get("eventType")) or text(ses_event.get("notificationType"))
    our_kind = EVENT_TYPES.get(ses_type or "")
    if our_kind is None:
        result.ignored.append(f"ses.{ses_type}")
        return result
    result.add(0, ses_event, partial(_event, our_kind, ses_event, envelope, request))
    return result


def _ses_event(message: Any) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(message) if isinstance(message, str) else None
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _refuse(reason: str) -> NoReturn:
    raise MalformedPayload(reason)


def _event(
    kind: str, ses_event: dict[str, Any], envelope: dict[str, Any], request: WebhookRequest
) -> EmailClicked | EmailDelivered:
    provider_event_id = text(envelope.get("MessageId"))
    if provider_event_id is None:
        raise MalformedPayload("SNS MessageId is missing")
    mail = ses_event.get("mail") if isinstance(ses_event.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    detail = ses_event.get("click" if kind == "email.clicked" else "delivery")
    detail = detail if isinstance(detail, dict) else {}
    recipients = _addresses(detail.get("recipients")) or _addresses(mail.get("destination"))
    common: dict[str, Any] = {
        "id": event_id(name, provider_event_id),
        # the click/delivery time; SNS's publish time only if SES left it out
        "occurred_at": to_utc(detail.get("timestamp") or envelope.get("Timestamp")),
        "received_at": request.received_at,
        "provider": name,
        "source": request.source_id,
        "provider_event_id": provider_event_id,
        "recipient": Recipient(email=recipients[0] if len(recipients) == 1 else None),
        "message": Message(
            id=text(mail.get("messageId")), subject=text(dig(mail, "commonHeaders", "subject"))
        ),
        "metadata": _metadata(mail, detail, recipients),
        "test": _simulated(recipients),
    }
    if kind == "email.delivered":
        return EmailDelivered(**common)
    url = text(detail.get("link"))
    if url is None:
        raise MalformedPayload("Click event has no click.link")
    client = Client(user_agent=text(detail.get("userAgent")), ip=text(detail.get("ipAddress")))
    return EmailClicked(**common, link=link(url), client=client)


def _simulated(recipients: list[str]) -> bool:
    # https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html (simulator)
    return bool(recipients) and all(r.endswith("@simulator.amazonses.com") for r in recipients)


def _addresses(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _metadata(
    mail: dict[str, Any], detail: dict[str, Any], recipients: list[str]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(mail.get("tags"), dict):
        found["tags"] = mail["tags"]  # message tags + ses:* auto tags, name -> [values]
    if isinstance(detail.get("linkTags"), dict):
        found["link_tags"] = detail["linkTags"]  # from the ses:tags attribute on the <a> tag
    if len(recipients) != 1:
        found["destination"] = recipients
    header_id = text(dig(mail, "commonHeaders", "messageId"))
    if header_id:
        found["rfc822_message_id"] = header_id
    return found
