"""Signed contact tokens: `?c=<token>` says which contact a trigger-link click is for.

The token is `<contact>.<mac>`, both URL-safe base64 without padding, where mac is the first
16 bytes (128 bits, plenty against forgery and short enough for an SMS) of
HMAC-SHA256(secret, slug + NUL + contact). The contact is signed, not encrypted: anyone
holding the URL can read it, so contacts should be opaque ids, not email addresses. A token
is bound to its link: one made for a slug does not verify on another. Verification compares
in constant time and never raises: a missing, malformed or tampered token is anonymous.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from functools import lru_cache

from connector.hmac_key import HmacKey
from connector.links.template import TRAILING

MAC_BYTES = 16
MAX_TOKEN = 512  # longer tokens are not ours: not even decoded


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _unb64(text: str) -> bytes:
    """`base64.urlsafe_b64decode` with the padding put back, without its Python layers (a
    click decodes two of these), and strict: only the text `_b64` makes of the bytes decodes.
    The decoder alone ignores a last character's unused bits, padding and stray characters,
    so a token changed there would still verify instead of being anonymous. Non-ASCII
    raises ValueError, bad data binascii.Error."""
    raw = text.encode("ascii")
    data = raw.translate(_FROM_URLSAFE)
    decoded = binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    if binascii.b2a_base64(decoded, newline=False).rstrip(b"=").translate(_TO_URLSAFE) != raw:
        raise ValueError("not the canonical base64 of its bytes")
    return decoded


def _mac(secret: bytes, slug: str, contact: str) -> bytes:
    return _key(secret).digest(slug.encode() + b"\x00" + contact.encode())[:MAC_BYTES]


@lru_cache(maxsize=8)
def _key(secret: bytes) -> HmacKey:
    """The secret's HMAC key, made once (connector/hmac_key.py: a click's MAC in C)."""
    return HmacKey(secret)


def sign(secret: bytes, slug: str, contact: str) -> str:
    """The token for `contact` on link `slug`."""
    return f"{_b64(contact.encode())}.{_b64(_mac(secret, slug, contact))}"


def verify(secret: bytes | None, slug: str, token: str | None) -> str | None:
    """The contact id a token names, when it is ours for this slug; else None."""
    if secret is None or not token or len(token) > MAX_TOKEN:
        return None
    encoded, dot, mac = token.rstrip(TRAILING).partition(".")
    if not dot:
        return None
    try:
        contact = _unb64(encoded).decode("utf-8")
        given = _unb64(mac)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not contact or not hmac.compare_digest(given, _mac(secret, slug, contact)):
        return None
    return contact
