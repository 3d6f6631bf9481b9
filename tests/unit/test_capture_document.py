"""Capture documents: exact bytes kept, every configured secret redacted wherever it appears."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from connector.capture import REDACTED, capture_document, source_secrets
from providers.base import Source, WebhookRequest


def _request(body: bytes, headers: dict[str, str], url: str) -> WebhookRequest:
    return WebhookRequest("s", "POST", url, headers, body, "127.0.0.1", datetime.now(UTC))


def test_non_utf8_body_is_kept_byte_exact() -> None:
    """A body that is not UTF-8 is saved as base64 so the capture still replays exactly."""
    body = b"\xff\xfe{not utf8}"
    document = capture_document(_request(body, {}, "http://h/webhooks/s"), "bad")
    assert "body" not in document
    assert base64.b64decode(str(document["body_base64"])) == body


def test_source_secrets_are_redacted_in_any_header_and_url() -> None:
    """Custom token headers and secrets in the URL are redacted; signatures stay."""
    source = Source(
        id="s", provider="generic", bearer_tokens=("tok-123456",), basic_auth=("user:pa55word",)
    )
    request = _request(
        b"{}",
        {"x-webhook-token": "tok-123456", "x-signature": "abc", "authorization": "Basic x"},
        "http://h/webhooks/s?key=pa55word",
    )
    document = capture_document(request, "bad", source_secrets(source))
    headers = document["headers"]
    assert isinstance(headers, dict)
    assert headers["x-webhook-token"] == REDACTED
    assert headers["authorization"] == REDACTED
    assert headers["x-signature"] == "abc"
    assert document["path"] == REDACTED
    assert "pa55word" not in str(document)
