"""Signed session cookies and the CSRF tokens bound to them.

The cookie holds a random session id and its issue time, signed with a key derived from
the admin token (itsdangerous, HMAC-SHA256): nothing secret is in it, a restart or another
replica with the same token accepts it, and changing the token signs everybody out. It is
`HttpOnly`, `SameSite=Lax`, expires after `MAX_AGE`, and `Secure` unless the request came
over plain http to the loopback address with no `X-Forwarded-Proto: https` (a local run
without TLS; a TLS proxy on the same host says https, and the flag stays). Logging out
clears the cookie; a copied cookie stays valid until it expires (stateless sessions:
documented in the README).

Every form that changes something carries `csrf_token(session)`, an HMAC of the session id
under a second derived key; `csrf_ok` compares it in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "connector_ui"
MAX_AGE = 8 * 3600  # seconds a login lasts
_LOOPBACK = {"127.0.0.1", "::1"}


@dataclass(frozen=True, slots=True)
class Session:
    id: str


class Sessions:
    """Issues, reads and ends sessions; checks the password and CSRF tokens."""

    def __init__(self, token: str) -> None:
        self._password = token.encode()
        self._signer = URLSafeTimedSerializer(_derive(token, "session"), salt="connector-ui")
        self._csrf_key = _derive(token, "csrf").encode()

    def password_ok(self, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self._password)

    def read(self, request: Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:  # also SignatureExpired
            return None
        sid = data.get("sid") if isinstance(data, dict) else None
        return Session(sid) if isinstance(sid, str) and sid else None

    def start(self, request: Request, response: Response) -> None:
        value = self._signer.dumps({"sid": secrets.token_urlsafe(24)})
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE,
            path="/ui",
            httponly=True,
            samesite="lax",
            secure=not _local_plain_http(request),
        )

    def end(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE,
            path="/ui",
            httponly=True,
            samesite="lax",
            secure=not _local_plain_http(request),
        )

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.id.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, given: str) -> bool:
        return hmac.compare_digest(given.encode(), self.csrf_token(session).encode())


def _derive(token: str, purpose: str) -> str:
    """A key per purpose, so the cookie signature never doubles as a CSRF token."""
    return hmac.new(token.encode(), f"connector-ui/{purpose}".encode(), hashlib.sha256).hexdigest()


def _local_plain_http(request: Request) -> bool:
    """Plain http from this machine, and no TLS proxy on this machine saying otherwise.

    A proxy on the same host that terminates TLS (nginx, caddy) reaches us over plain http
    from 127.0.0.1; its `X-Forwarded-Proto: https` (or `Forwarded: proto=https`) keeps
    `Secure` on, so the cookie never travels over plain http to the public name."""
    client = request.client.host if request.client else ""
    if request.url.scheme != "http" or client not in _LOOPBACK:
        return False
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    standard = request.headers.get("forwarded", "").lower().replace(" ", "")
    return forwarded != "https" and "proto=https" not in standard
