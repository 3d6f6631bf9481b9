"""A contact's tracked URL: `<base>/t/<slug>?c=<token>[&NAME=VALUE...]`.

The one place such a URL is made, for `connector links url` and for the admin API's
`POST /api/v1/links/{slug}/urls` (apps that send SMS or chat messages), so both sign and
encode the same way. Query values fill the link's `{query.NAME}` placeholders; `c` is the
token's own parameter and cannot be one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from connector.links.template import CONTACT_PARAM
from connector.links.tokens import sign

# A longer contact would make a token over `tokens.MAX_TOKEN` (512), which the redirect does
# not even decode (the click would be anonymous): 300 bytes give tokens of 423 characters.
MAX_CONTACT_BYTES = 300


def contact_problem(contact: str) -> str | None:
    """Why `contact` cannot be put in a token, or None."""
    if not contact:
        return "must not be empty"
    if len(contact.encode()) > MAX_CONTACT_BYTES:
        return f"must be at most {MAX_CONTACT_BYTES} bytes (UTF-8)"
    return None


def query_problems(query: Mapping[str, str]) -> list[str]:
    """What is wrong with the query values to add to every URL."""
    return [
        f"query.{name}: `{CONTACT_PARAM}` is the contact token's own parameter"
        for name in query
        if name == CONTACT_PARAM
    ] + [f"query: {name!r} is not a parameter name" for name in query if not name]


def contact_url(
    base: str, slug: str, key: bytes, contact: str, query: Mapping[str, str] | None = None
) -> str:
    """The tracked URL of link `slug` for `contact`; values are percent-encoded whole."""
    url = f"{base.rstrip('/')}/t/{slug}?{CONTACT_PARAM}={quote(sign(key, slug, contact), safe='')}"
    for name, value in (query or {}).items():
        url += f"&{quote(name, safe='')}={quote(value, safe='')}"
    return url
