"""Debug capture: save rejected requests in the format `connector inspect` replays.

Off unless `server.capture_rejected_dir` is set. Credentials that are secrets in themselves
(Authorization, cookies, basic auth in the URL) are redacted; signatures are kept, because
they prove nothing without the key and are exactly what a user needs to see why a check
failed.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable
from pathlib import Path

import orjson

from providers.base import Source, WebhookRequest

REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_URL_USERINFO = re.compile(r"//[^/@]*@")
_MIN_SECRET = 4  # shorter "secrets" would redact half the headers and protect nothing


def source_secrets(source: Source) -> list[str]:
    """Every secret a request to `source` might carry in a header or its URL."""
    passwords = [pair.partition(":")[2] for pair in source.basic_auth]
    found = [*source.signing_keys, *source.basic_auth, *source.bearer_tokens, *passwords]
    return [secret for secret in found if len(secret) >= _MIN_SECRET]


def capture_document(
    request: WebhookRequest, reason: str, secrets: Iterable[str] = ()
) -> dict[str, object]:
    """The capture format `connector inspect` reads; secrets are redacted wherever they appear.

    Headers known to carry credentials are always redacted; any other header or URL that
    contains one of the source's `secrets` (a custom token header, say) is redacted too.
    """
    known = [secret for secret in secrets if secret]
    headers = {
        name: REDACTED if name in _SECRET_HEADERS or _contains(value, known) else value
        for name, value in request.headers.items()
    }
    url = _URL_USERINFO.sub("//" + REDACTED + "@", request.url)
    document: dict[str, object] = {
        "source": request.source_id,
        "method": request.method,
        "path": REDACTED if _contains(url, known) else url,
        "headers": headers,
        "received_at": request.received_at.isoformat(),
        "client_ip": request.client_ip,
        "rejected_because": reason,
    }
    try:
        document["body"] = request.body.decode("utf-8")
    except UnicodeDecodeError:  # keep the exact bytes so the capture still replays
        document["body_base64"] = base64.b64encode(request.body).decode("ascii")
    return document


def _contains(value: str, secrets: list[str]) -> bool:
    return any(secret in value for secret in secrets)


def save_capture(
    directory: str, request: WebhookRequest, reason: str, secrets: Iterable[str] = ()
) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = request.received_at.strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{request.source_id}-{uuid.uuid4().hex[:8]}.json"
    document = capture_document(request, reason, secrets)
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path
