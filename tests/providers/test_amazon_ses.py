"""Amazon SES via SNS: certificate URL checks, v1/v2 signatures, topic allow-list, confirmations."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.errors import CredentialsRequired, ForbiddenSource, MalformedPayload, SignatureError
from providers import amazon_ses
from providers.base import Source, WebhookRequest
from providers.signing import basic_authorization
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import Case, cases
from tests.support.strategies import json_values

CASES = {case.name: case for case in cases("amazon_ses")}
MESSAGE_ID = "0100019420aa-7c1d-4e2f-9a3b-5c6d7e8f9a0b-000000"
CLICK = CASES["click"]
SOURCE = CLICK.source()
KEY_PEM: str = SOURCE.options["test_private_key"]
CERT_URL = next(iter(SOURCE.options["certificates"]))
TOPIC = SOURCE.topic_arns[0]
FOREIGN_TOPIC = "arn:aws:sns:us-east-1:999988887777:someone-elses-topic"


def _envelope(case: Case = CLICK) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(case.body)
    return loaded


def _signed(envelope: dict[str, Any], key_pem: str = KEY_PEM) -> dict[str, Any]:
    """`envelope` signed as SNS would, with the hash its SignatureVersion names."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    algorithm = amazon_ses.HASHES[envelope["SignatureVersion"]]()
    signature = key.sign(amazon_ses.string_to_sign(envelope), padding.PKCS1v15(), algorithm)
    return {**envelope, "Signature": base64.b64encode(signature).decode()}


def _request(envelope: dict[str, Any], **headers: str) -> WebhookRequest:
    body = json.dumps(envelope).encode()
    sent = {
        k.lower(): v for k, v in amazon_ses.sign(body, SOURCE, CLICK.request().received_at).items()
    }
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    return replace(CLICK.request(body=body), headers=sent)


def _ses_click(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(_envelope()["Message"])
    event.update(changes)
    return _signed({**_envelope(), "Message": json.dumps(event)})


def _certificate(key: rsa.RSAPrivateKey, start: int, end: int) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(start, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(end, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _with_certificate(pem: str) -> Source:
    return replace(SOURCE, options={**SOURCE.options, "certificates": {CERT_URL: pem}})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sent", [Sent("dana@example.org", MESSAGE_ID, None, "2025-01-01T11:58:40.120000+00:00")]),
        ("delivered", []),
    ],
)
def test_send_record_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """A Send record becomes email.sent at `mail.timestamp`, for its one destination."""
    assert sent_events(amazon_ses, CASES[name]) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
        "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
    ],
)
def test_aws_certificate_urls_are_accepted(url: str) -> None:
    """Regional, China and GovCloud SNS certificate URLs pass validation unchanged."""
    assert amazon_ses.signing_cert_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
        "https://s3.amazonaws.com/sns-bucket/cert.pem",
        "https://sns.amazonaws.com/cert.pem",
        "https://user@sns.us-east-1.amazonaws.com/cert.pem",
        "https://evil.example@sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert.txt",
        "https://sns.us-east-1.amazonaws.com/cert.pem?x=.pem",
        "https://sns.us-east-1.amazonaws.com/cert.pem#frag",
        "https://sns.us-east-1.amazonaws.com/a/../cert.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/cert.pem",
        "https://sns.us-east-1.amazonaws.com/cert .pem",
        "HTTPS://sns.us-east-1.amazonaws.com/cert.pem",
        "",
        None,
        42,
    ],
)
def test_unsafe_certificate_urls_are_refused(url: Any) -> None:
    """Anything but https on an SNS host with one `.pem` segment is refused before any fetch."""
    with pytest.raises(SignatureError):
        amazon_ses.signing_cert_url(url)


def test_certificate_url_reads_the_validated_url_from_the_body() -> None:
    """The app learns which certificate to fetch from the request alone."""
    assert amazon_ses.certificate_url(CLICK.request()) == CERT_URL
    assert amazon_ses.certificate_url(_request({"Type": "Notification"})) is None
    with pytest.raises(MalformedPayload):
        amazon_ses.certificate_url(CLICK.request(body=b"not json"))


def test_signature_versions_1_and_2_both_verify() -> None:
    """SHA1withRSA (v1) and SHA256withRSA (v2) signatures of the same message are accepted."""
    for version in ("1", "2"):
        envelope = _signed({**_envelope(), "SignatureVersion": version})
        assert amazon_ses.verify(_request(envelope), SOURCE).credential == "topic_arns[0]"


def test_signature_version_decides_the_hash() -> None:
    """A SHA256 signature relabelled as version 1 (or an unknown version) is refused."""
    relabelled = {**_signed(_envelope()), "SignatureVersion": "1"}
    with pytest.raises(SignatureError):
        amazon_ses.verify(_request(relabelled), SOURCE)
    with pytest.raises(SignatureError):
        amazon_ses.verify(_request({**_signed(_envelope()), "SignatureVersion": "3"}), SOURCE)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Message", '{"eventType":"Click"}'),
        ("MessageId", "00000000-0000-0000-0000-000000000000"),
        ("Timestamp", "2025-01-01T12:00:01.005Z"),
        ("TopicArn", FOREIGN_TOPIC),
        ("Type", "SubscriptionConfirmation"),
        ("Subject", "added after signing"),
    ],
)
def test_changing_a_signed_field_breaks_the_signature(field: str, value: str) -> None:
    """Every field SNS signs is covered, including an added optional Subject."""
    envelope = {**_signed(_envelope()), field: value}
    with pytest.raises(SignatureError):
        amazon_ses.verify(_request(envelope), SOURCE)


def test_unsigned_fields_are_not_covered() -> None:
    """UnsubscribeURL is outside the signature (why the manifest says body_signed: false)."""
    envelope = {**_signed(_envelope()), "UnsubscribeURL": "https://example.org/elsewhere"}
    assert amazon_ses.verify(_request(envelope), SOURCE).credential == "topic_arns[0]"


def test_validly_signed_message_from_a_foreign_topic_is_forbidden() -> None:
    """AWS signs anyone's topic, so a genuine signature for another topic is a 403."""
    envelope = _signed({**_envelope(), "TopicArn": FOREIGN_TOPIC})
    with pytest.raises(ForbiddenSource):
        amazon_ses.verify(_request(envelope), SOURCE)
    with pytest.raises(ForbiddenSource):
        amazon_ses.parse(_request(envelope), SOURCE)


def test_topic_rotation_names_the_matching_topic() -> None:
    """With several allowed topics, the credential label points at the one that matched."""
    source = replace(SOURCE, topic_arns=(FOREIGN_TOPIC, TOPIC))
    assert amazon_ses.verify(CLICK.request(), source).credential == "topic_arns[1]"


def test_missing_certificate_is_a_signature_error() -> None:
    """`verify` never fetches: without the PEM in options the request is refused."""
    source = replace(SOURCE, options={})
    with pytest.raises(SignatureError, match="signing certificate not available"):
        amazon_ses.verify(CLICK.request(), source)


def test_certificate_of_another_key_or_out_of_validity_is_refused() -> None:
    """A signature checks only against the right key, inside the certificate's validity."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SignatureError):
        amazon_ses.verify(CLICK.request(), _with_certificate(_certificate(other, 2024, 2044)))
    own = serialization.load_pem_private_key(KEY_PEM.encode(), password=None)
    assert isinstance(own, rsa.RSAPrivateKey)
    with pytest.raises(SignatureError, match="not valid at this time"):
        amazon_ses.verify(CLICK.request(), _with_certificate(_certificate(own, 2020, 2021)))
    with pytest.raises(SignatureError):
        amazon_ses.verify(CLICK.request(), _with_certificate("not a certificate"))


def test_sns_headers_must_agree_with_the_body_when_present() -> None:
    """A mismatching x-amz-sns-message-type / -id is refused; absent headers are tolerated."""
    with pytest.raises(SignatureError):
        amazon_ses.verify(_request(_envelope(), x_amz_sns_message_type="Other"), SOURCE)
    bare = replace(CLICK.request(), headers={"content-type": "text/plain"})
    assert amazon_ses.verify(bare, SOURCE).credential == "topic_arns[0]"


def test_subscription_confirmation_becomes_a_control_task() -> None:
    """An allowed topic's confirmation asks the worker to GET the SubscribeURL."""
    case = CASES["subscription"]
    result = amazon_ses.parse(case.request(), case.source())
    envelope = _envelope(case)
    assert [(t.kind, dict(t.data)) for t in result.tasks] == [
        ("sns.confirm_subscription", {"url": envelope["SubscribeURL"], "topic_arn": TOPIC})
    ]
    assert result.events == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?Action=ConfirmSubscription",
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={FOREIGN_TOPIC}",
        "https://sns.us-east-1.amazonaws.com/other?Action=ConfirmSubscription",
        None,
    ],
)
def test_unsafe_subscribe_urls_are_malformed(url: Any) -> None:
    """A SubscribeURL off SNS, for another action or another topic is never scheduled."""
    envelope = {**_envelope(CASES["subscription"]), "SubscribeURL": url}  # parse-only: unsigned
    with pytest.raises(MalformedPayload):
        amazon_ses.parse(_request(envelope), SOURCE)


def test_confirmation_for_a_foreign_topic_is_forbidden() -> None:
    """Nobody can make us subscribe to their topic by posting its confirmation."""
    envelope = _signed({**_envelope(CASES["subscription"]), "TopicArn": FOREIGN_TOPIC})
    with pytest.raises(ForbiddenSource):
        amazon_ses.parse(_request(envelope), SOURCE)


def test_single_delivery_recipient_wins_over_a_multi_recipient_destination() -> None:
    """A Delivery names the recipients it is about; a Click only has the message's list."""
    event = json.loads(_envelope(CASES["delivered"])["Message"])
    event["mail"]["destination"] = ["a@example.org", "b@example.org"]
    envelope = _signed({**_envelope(CASES["delivered"]), "Message": json.dumps(event)})
    parsed = amazon_ses.parse(_request(envelope), SOURCE).events[0].event
    assert parsed.recipient.email == "dana@example.org"
    assert "destination" not in parsed.metadata


def test_mailbox_simulator_sends_are_marked_as_tests() -> None:
    """Clicks on mail to @simulator.amazonses.com addresses carry test=True."""
    mail = {
        **json.loads(_envelope()["Message"])["mail"],
        "destination": ["success@simulator.amazonses.com"],
    }
    event = amazon_ses.parse(_request(_ses_click(mail=mail)), SOURCE).events[0].event
    assert event.test is True
    assert amazon_ses.parse(CLICK.request(), SOURCE).events[0].event.test is False


def test_legacy_notification_delivery_is_accepted() -> None:
    """SES 'notifications' (notificationType, no eventType) deliveries still normalise."""
    event = json.loads(_envelope(CASES["delivered"])["Message"])
    event["notificationType"] = event.pop("eventType")
    envelope = _signed({**_envelope(CASES["delivered"]), "Message": json.dumps(event)})
    result = amazon_ses.parse(_request(envelope), SOURCE)
    assert [p.event.type for p in result.events] == ["email.delivered"]


def test_unreadable_message_or_click_without_link_is_a_rejection() -> None:
    """A non-SES Message, a Click without link or with an impossible time is one rejection."""
    text_message = _signed({**_envelope(), "Message": "hello from another publisher"})
    click = json.loads(_envelope()["Message"])["click"]
    del click["link"]
    edge = {**json.loads(_envelope()["Message"])["click"], "timestamp": "9999-12-31T23:59:59-01:00"}
    for envelope in (text_message, _ses_click(click=click), _ses_click(click=edge)):
        result = amazon_ses.parse(_request(envelope), SOURCE)
        assert result.events == []
        assert len(result.rejected) == 1


def test_sign_returns_the_sns_headers_of_the_body() -> None:
    """`sign` cannot re-sign the body; it returns the headers SNS sends alongside it."""
    headers = amazon_ses.sign(CLICK.body, SOURCE, CLICK.request().received_at)
    assert headers["x-amz-sns-message-id"] == _envelope()["MessageId"]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["Content-Type"].startswith("text/plain")


PAIR = "sns:correct-horse"
WITH_AUTH = replace(SOURCE, basic_auth=("old:retired-pass", PAIR))


@pytest.mark.parametrize(
    ("authorization", "credential"),
    [
        (None, None),
        ("", None),
        (basic_authorization("sns:wrong-pass"), None),
        (basic_authorization("other:correct-horse"), None),
        (basic_authorization("sns:correct-horse "), None),
        (basic_authorization("sns"), None),
        ("Basic !!!not base64", None),
        ("Bearer correct-horse", None),
        (basic_authorization(PAIR), "topic_arns[0], basic_auth[1]"),
        (basic_authorization("old:retired-pass"), "topic_arns[0], basic_auth[0]"),
        ("basic " + basic_authorization(PAIR)[6:], "topic_arns[0], basic_auth[1]"),
    ],
)
def test_configured_basic_auth_is_enforced(
    authorization: str | None, credential: str | None
) -> None:
    """With basic_auth set, a missing or wrong Authorization is refused with a challenge (SNS
    sends credentials only after a 401 carrying WWW-Authenticate); the right pair verifies."""
    headers = {k.lower(): v for k, v in CLICK.headers.items()}
    if authorization is not None:
        headers["authorization"] = authorization
    request = CLICK.request(headers=headers)
    if credential is None:
        with pytest.raises(CredentialsRequired) as refused:
            amazon_ses.verify(request, WITH_AUTH)
        assert refused.value.status_code == 401
        assert refused.value.challenge.startswith("Basic realm=")
        assert "correct-horse" not in refused.value.message
    else:
        assert amazon_ses.verify(request, WITH_AUTH).credential == credential


def test_basic_auth_does_not_replace_the_sns_signature() -> None:
    """The right credentials on a message SNS did not sign (as sent) are still refused."""
    tampered = _envelope()
    tampered["Message"] = tampered["Message"].replace("shop.example.org", "evil.example")
    forged = _signed(_envelope(), key_pem=_other_key_pem())
    for envelope in (tampered, forged):
        with pytest.raises(SignatureError) as refused:
            amazon_ses.verify(
                _request(envelope, authorization=basic_authorization(PAIR)), WITH_AUTH
            )
        assert not isinstance(refused.value, CredentialsRequired)


def _other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem.decode()


def test_sign_sends_the_configured_basic_auth() -> None:
    """`sign` adds the first basic_auth pair, so `send-sample` passes an enforcing source."""
    headers = amazon_ses.sign(CLICK.body, WITH_AUTH, CLICK.request().received_at)
    assert headers["Authorization"] == basic_authorization("old:retired-pass")
    assert "Authorization" not in amazon_ses.sign(CLICK.body, SOURCE, CLICK.request().received_at)


def test_check_source_refuses_a_basic_auth_entry_without_a_colon() -> None:
    """A basic_auth entry that cannot be user:password fails closed at start-up."""
    problems = amazon_ses.check_source(replace(SOURCE, basic_auth=("no-colon",)))
    assert [problem.split(":")[0] for problem in problems] == ["basic_auth"]
    assert amazon_ses.check_source(WITH_AUTH) == []


def test_check_source_requires_topics() -> None:
    """Without topic_arns the source fails closed, and the problem names the key."""
    problems = amazon_ses.check_source(Source(id="s", provider="amazon_ses"))
    assert [problem.split(":")[0] for problem in problems] == ["topic_arns"]
    assert amazon_ses.check_source(SOURCE) == []


JSON = json_values(10)
ENVELOPE_KEYS = ["Type", "MessageId", "Message", "TopicArn", "SubscribeURL", "Timestamp"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=200) | JSON.map(lambda value: json.dumps(value).encode()))
def test_arbitrary_bodies_only_raise_our_errors(body: bytes) -> None:
    """Any body makes parse return or raise MalformedPayload / ForbiddenSource (foreign topic)."""
    try:
        result = amazon_ses.parse(CLICK.request(body=body), SOURCE)
    except (MalformedPayload, ForbiddenSource):
        return
    assert len(result.events) + len(result.rejected) + len(result.ignored) == 1


@settings(max_examples=150, deadline=None)
@given(
    fields=st.fixed_dictionaries(
        {"Type": st.sampled_from(["Notification", "SubscriptionConfirmation", "Other"])},
        optional=dict.fromkeys(ENVELOPE_KEYS[1:], JSON),
    ),
    message=JSON,
)
def test_arbitrary_envelopes_of_an_allowed_topic_only_raise_malformed(
    fields: dict[str, Any], message: Any
) -> None:
    """Shaped SNS envelopes with any SES content never crash parse."""
    envelope = {**fields, "TopicArn": TOPIC, "Message": json.dumps(message)}
    try:
        result = amazon_ses.parse(_request(envelope), SOURCE)
    except MalformedPayload:
        return
    assert len(result.events) + len(result.rejected) + len(result.ignored) <= 1


@settings(max_examples=150, deadline=None)
@given(headers=st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=6))
def test_arbitrary_headers_only_raise_signature_or_forbidden(headers: dict[str, str]) -> None:
    """verify with any headers either accepts or raises SignatureError / ForbiddenSource."""
    request = replace(CLICK.request(), headers={k.lower(): v for k, v in headers.items()})
    try:
        verified = amazon_ses.verify(request, SOURCE)
    except (SignatureError, ForbiddenSource):
        return
    assert verified.credential == "topic_arns[0]"
