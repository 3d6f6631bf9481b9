"""Reads the dashboard's small url-encoded forms without a multipart parser.

Every form here is a few short fields, so a body over `MAX_BODY` bytes or one that is not
`application/x-www-form-urlencoded` reads as empty (and fails its CSRF or password check),
as does one whose sender hung up half way (logged as `ui.disconnected`, not as an error).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import structlog
from starlette.requests import ClientDisconnect, Request

MAX_BODY = 8 * 1024
_CACHE = "ui_form"
log = structlog.get_logger("connector.ui")


async def form(request: Request) -> dict[str, str]:
    """The first value of each field; read once per request and kept on its state."""
    cached: dict[str, str] | None = getattr(request.state, _CACHE, None)
    if cached is not None:
        return cached
    fields: dict[str, str] = {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "")
    small = length.isdigit() and int(length) <= MAX_BODY
    if content_type == "application/x-www-form-urlencoded" and small:
        try:
            body = await request.body()
        except ClientDisconnect:  # nobody will read the answer; the form stays empty
            log.info("ui.disconnected", path=request.url.path)
            body = b""
        for key, value in parse_qsl(body[:MAX_BODY].decode("utf-8", errors="replace")):
            fields.setdefault(key, value)
    setattr(request.state, _CACHE, fields)
    return fields
