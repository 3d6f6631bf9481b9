"""Debug capture: save rejected requests in the format `connector inspect` replays.

Off unless `server.capture_rejected_dir` is set. Credentials that are secrets in themselves
(Authorization, cookies, basic auth in the URL) are redacted; signatures are kept, because
they prove nothing without the key and are exactly what a user needs to see why a check
failed.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import orjson

from providers.base import WebhookRequest

REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_URL_USERINFO = re.compile(r"//[^/@]*@")


def capture_document(request: WebhookRequest, reason: str) -> dict[str, object]:
    headers = {
        name: REDACTED if name in _SECRET_HEADERS else value
        for name, value in request.headers.items()
    }
    return {
        "source": request.source_id,
        "method": request.method,
        "path": _URL_USERINFO.sub("//" + REDACTED + "@", request.url),
        "headers": headers,
        "body": request.body.decode("utf-8", errors="replace"),
        "received_at": request.received_at.isoformat(),
        "client_ip": request.client_ip,
        "rejected_because": reason,
    }


def save_capture(directory: str, request: WebhookRequest, reason: str) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = request.received_at.strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{request.source_id}-{uuid.uuid4().hex[:8]}.json"
    path.write_bytes(orjson.dumps(capture_document(request, reason), option=orjson.OPT_INDENT_2))
    return path
