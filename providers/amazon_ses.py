"""Amazon SES event publishing, delivered by an SNS HTTPS subscription.

Delivery (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html): one SNS
message per POST, `Content-Type: text/plain`, the SES event a JSON *string* in `Message`.
Timeout 15 s. **Any 4xx counts as delivered and is never retried**; 5xx and timeouts are
retried (default 3 times, 20 s apart; a delivery policy can stretch that to 3,600 s in all).
So 400/401/403 drop a message for good (right for forged or foreign ones); only 503 retries.

Authenticity (https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):
RSA PKCS#1 v1.5 (SHA1 for `SignatureVersion` 1, SHA256 for 2) over `Key\nValue\n` of the
signed fields, with the certificate at `SigningCertURL` (the SNS parts: providers/sns.py).
`verify` is pure: the app calls
`certificate_url(request)` (validated: https, host `sns.<region>.amazonaws.com[.cn]`, no
userinfo/port/query, one path segment ending `.pem`) and puts the PEM into
`source.options["certificates"]` (url -> PEM; connector/certificates.py) first. AWS signs
*every* topic's messages, so `TopicArn` must be in `topic_arns` (403). `x-amz-sns-*` headers
must agree with the body when present. Raw message delivery (unsigned) is not supported.
Optional `basic_auth` (credentials in the subscription URL, `https://user:pass@host/...`) is
enforced on top of the signature, fail closed and in constant time: SNS sends the credentials
only after a 401 carrying a `WWW-Authenticate` challenge, so a missing or wrong pair raises
`CredentialsRequired`, whose answer carries one.

Replay window: the signed `Timestamp` is the publish time; retries resend the same message
and SNS gives up within an hour, so the default tolerance is 3,600 s + 15 min. Replays inside
it are acknowledged duplicates (dedup on `MessageId`, the event id).

`SubscriptionConfirmation` for an allowed topic adds a `ControlTask("sns.confirm_subscription",
{url, topic_arn})` (connector/control.py runs it after we answer); `UnsubscribeConfirmation`
and SES's plain-text "Successfully validated SNS topic" notice are acknowledged. An SES click
belongs to the whole message: `recipient.email` is set only when `mail.destination` (for
deliveries `delivery.recipients`) holds one address, else it is None and the list is in
`metadata["destination"]`. Deliveries from the older SES notifications (`notificationType`)
are accepted too (that older format has no send record).

`sign` returns the SNS headers only: the signature is inside the body, so `send-sample` posts
the fixture's signed bytes unchanged.

Mapping: `Click`, `Delivery`, and `Send` as `email.sent`: "The send request was successful and
SES will attempt to deliver the message to the recipient's mail server"
(https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_EventDestination.html). A Send
record's `send` object is empty, so its time is `mail.timestamp` (when SES accepted the
message) and its recipients are `mail.destination`, as for clicks.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, NoReturn

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connector.errors import CredentialsRequired, ForbiddenSource, MalformedPayload, SignatureError
from providers.base import ControlTask, ParseResult, Source, Verified, WebhookRequest
from providers.normalize import agent, dig, link_fields, load_json, origin, text, to_utc
from providers.signing import (
    basic_auth_problems,
    basic_auth_user_pass,
    basic_authorization,
    blank_credential_problems,
    check_freshness,
    check_secret,
)
from providers.sns import HASHES as HASHES  # re-exported: tests sign with it
from providers.sns import HEADER_FIELDS, check_signature, string_field
from providers.sns import signing_cert_url as signing_cert_url  # re-exported for connector/
from providers.sns import string_to_sign as string_to_sign  # re-exported: tests sign with it
from providers.sns import subscribe_url as subscribe_url  # re-exported for connector/
from schemas.compiled import CompiledEvent, build_event

name = "amazon_ses"
title = "Amazon SES (via SNS)"
STATUS_OVERRIDES: Mapping[int, int] = {}  # none needed (retry behaviour: module docstring)
DEFAULT_TOLERANCE = 3600 + 900

# SES eventType (or notificationType) -> ours;
# https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
# (`Send`: SES accepted the request and will attempt delivery, so `email.sent`)
EVENT_TYPES: dict[str, str] = {
    "Click": "email.clicked",
    "Delivery": "email.delivered",
    "Send": "email.sent",
}
_DETAIL = {"email.clicked": "click", "email.delivered": "delivery", "email.sent": "send"}
VALIDATION_NOTICE = "Successfully validated SNS topic"  # "... for Amazon SES event publishing."


def check_source(source: Source) -> list[str]:
    problems = basic_auth_problems(source.basic_auth)
    if not source.topic_arns:
        problems.append("topic_arns: Amazon SES needs the SNS topic ARNs it may receive from")
    certificates = source.options.get("certificates", {})
    if not isinstance(certificates, dict) or not _strings([*certificates, *certificates.values()]):
        problems.append("options.certificates: must map certificate URLs to PEM text")
    if not _strings(source.options.get("certificate_files", [])):
        problems.append("options.certificate_files: must be a list of file paths")
    return problems + blank_credential_problems(source)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def certificate_url(request: WebhookRequest) -> str | None:
    """The validated `SigningCertURL` the app must fetch (or find on disk) before `verify`."""
    value = _envelope(request.body).get("SigningCertURL")
    return None if value is None else signing_cert_url(value)


def verify(request: WebhookRequest, source: Source) -> Verified:
    authorized = _basic_auth(request, source)
    envelope = _envelope(request.body)
    check_signature(envelope, request, source.options.get("certificates"))
    index = _topic_index(envelope, source)
    try:
        signed_at = to_utc(string_field(envelope, "Timestamp")).timestamp()
    except MalformedPayload:
        raise SignatureError("Timestamp is not ISO-8601") from None
    check_freshness(signed_at, request.received_at, source.timestamp_tolerance or DEFAULT_TOLERANCE)
    label = f"topic_arns[{index}]"
    return Verified(credential=label if authorized is None else f"{label}, {authorized}")


def _basic_auth(request: WebhookRequest, source: Source) -> str | None:
    """The matching `basic_auth` label; None when none is configured (the signature decides)."""
    if not source.basic_auth:
        return None
    try:
        pair = basic_auth_user_pass(request.header("authorization"))
        return f"basic_auth[{check_secret(pair, source.basic_auth, 'basic auth credentials')}]"
    except SignatureError as error:  # SNS needs the challenge before it sends credentials
        raise CredentialsRequired(error.message) from None


def _topic_index(envelope: dict[str, Any], source: Source) -> int:
    topic = envelope.get("TopicArn")
    if not isinstance(topic, str) or topic not in source.topic_arns:
        raise ForbiddenSource("SNS topic is not in topic_arns")
    return source.topic_arns.index(topic)


def sign(body: bytes, source: Source, now: datetime) -> dict[str, str]:
    """The headers SNS sends with `body` (and the credentials of its URL, once challenged);
    the signature itself is inside the body."""
    envelope = _envelope(body)
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    for header, field in HEADER_FIELDS:
        if isinstance(envelope.get(field), str):
            headers[header] = envelope[field]
    if source.basic_auth:
        headers["Authorization"] = basic_authorization(source.basic_auth[0])
    return headers


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """`body` re-dated to `now` and re-signed with `options.test_private_key` (samples only).

    Only AWS holds SNS's real key, so this serves test sources whose certificate (in
    `options.certificates`) matches a private key of their own; `send-sample` uses it so a
    stored sample is not refused as stale.
    """
    key_pem = source.options.get("test_private_key")
    if not isinstance(key_pem, str):
        raise NotImplementedError("only AWS can sign SNS messages for this source")
    envelope = _envelope(body)
    algorithm = HASHES.get(str(envelope.get("SignatureVersion")), hashes.SHA256)
    envelope["Timestamp"] = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise NotImplementedError("options.test_private_key is not an RSA key")
    signature = key.sign(string_to_sign(envelope), padding.PKCS1v15(), algorithm())
    envelope["Signature"] = base64.b64encode(signature).decode("ascii")
    return orjson.dumps(envelope)


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
) -> CompiledEvent:
    provider_event_id = text(envelope.get("MessageId"))
    if provider_event_id is None:
        raise MalformedPayload("SNS MessageId is missing")
    mail = ses_event.get("mail") if isinstance(ses_event.get("mail"), dict) else {}
    assert isinstance(mail, dict)
    detail = ses_event.get(_DETAIL[kind])
    detail = detail if isinstance(detail, dict) else {}
    recipients = _addresses(detail.get("recipients")) or _addresses(mail.get("destination"))
    # the click/delivery time, or for a send (whose record has none) the time SES accepted
    # the message; SNS's publish time only if SES left it out
    own_time = mail.get("timestamp") if kind == "email.sent" else detail.get("timestamp")
    occurred_at = to_utc(own_time or envelope.get("Timestamp"))
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, occurred_at),
        "recipient": {"email": recipients[0] if len(recipients) == 1 else None},
        "message": {
            "id": text(mail.get("messageId")),
            "subject": text(dig(mail, "commonHeaders", "subject")),
        },
        "metadata": _metadata(mail, detail, recipients),
        "test": _simulated(recipients),
    }
    if kind != "email.clicked":  # deliveries and sends share the envelope fields
        return build_event(kind, common)
    url = text(detail.get("link"))
    if url is None:
        raise MalformedPayload("Click event has no click.link")
    client = {"user_agent": agent(detail.get("userAgent")), "ip": text(detail.get("ipAddress"))}
    return build_event("email.clicked", {**common, "link": link_fields(url), "client": client})


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
