"""Tells real destination links from the links every marketing email carries for the ESP.

Unsubscribe, preference-centre and view-in-browser links, and non-web links (mailto:, tel:,
in-page anchors), are clicked by security scanners as often as by people, and a CRM rarely
wants them: rules skip them unless they set `include_system_links = true`. The patterns below
are the shapes ESPs actually emit, matched on whole words of the lower-cased path and on query
keys, so `/products/unsubscribed-box` or `/cookie-preference` stay real links. A site's own
`/account/preferences` page does count as a preference page; a rule can opt in if it matters.

Shapes seen in real mail (public message archives):
* Mailchimp: `https://<acct>.usN.list-manage.com/unsubscribe?u=…&id=…`, `…/profile?u=…`
  (update preferences), `https://usN.campaign-archive.com/?u=…` (view in browser).
* SendGrid: `https://uNNN.ct.sendgrid.net/asm/unsubscribe/?user_id=…` and `…/asm/?user_id=…`
  (the unsubscribe-group preferences page).
* Brevo (Sendinblue): `https://<x>.r.<y>.d.sendibm1.com/mk/un/…` (unsubscribe), `/mk/up/…`
  (update preferences) and `/mk/mr/…` (mirror: view in browser), on custom tracking domains
  too; `/mk/cl/…` is its click redirect for real links.
* Mailjet: `https://<x>.mjt.lu/unsub2?…`; Customer.io and most others: `…/unsubscribe…`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

WEB_SCHEMES = frozenset({"http", "https"})
# The reasons for a real web page that is the ESP's, not the sender's.
SYSTEM_LINK_KINDS = frozenset({"unsubscribe", "preferences", "view_in_browser"})

# Matched against the lower-cased path; each group is a kind of system link, checked in order.
_PATH_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "unsubscribe",
        re.compile(
            r"unsubscribe(?![a-z])|(?<![a-z])(?:unsub\d*|opt[-_]?out|optout)(?![a-z])"
            r"|^/mk/un/|^/wf/unsubscribe"
        ),
    ),
    (
        "view_in_browser",
        re.compile(
            r"(?<![a-z])(?:view[-_]?in[-_]?browser|view[-_]?online|web[-_]?version|webversion)"
            r"(?![a-z])|^/mk/mr/"
        ),
    ),
    (
        "preferences",
        re.compile(
            r"(?<![a-z])(?:preferences|preference[-_]?cent(?:er|re)|subscription[-_]?cent(?:er|re)"
            r"|manage[-_]?subscriptions?|email[-_]?settings)(?![a-z])|^/asm(?:/|$)|^/mk/up/"
        ),
    ),
)
# Query keys or whole values that mark a system link (`?action=unsubscribe`, `?optout=1`).
_QUERY_WORDS = re.compile(r"unsubscribe|unsub|opt[-_]?out")
# Hosts that only serve system pages.
_HOSTS: tuple[tuple[str, str], ...] = (("campaign-archive.com", "view_in_browser"),)
_MAILCHIMP_PROFILE = re.compile(r"^/profile(?:/|$)")


def classify_link(url: str) -> str | None:
    """None for a real http(s) destination; otherwise a short reason such as `unsubscribe`.

    Reasons: `empty`, `anchor`, `invalid`, `no_scheme`, `scheme:<name>` (mailto, tel, sms,
    javascript, data, ...), `unsubscribe`, `preferences`, `view_in_browser`.
    """
    if not isinstance(url, str):
        return "invalid"
    return _classify(url.strip()[:4096])


@lru_cache(maxsize=1024)
def _classify(url: str) -> str | None:
    if not url:
        return "empty"
    if url.startswith("#"):
        return "anchor"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "invalid"
    scheme = parts.scheme.lower()
    if not scheme:
        return "no_scheme"
    if scheme not in WEB_SCHEMES:
        return f"scheme:{scheme}"
    if not host:
        return "invalid"
    return _system_kind(host, parts.path.lower(), parts.query.lower())


def _system_kind(host: str, path: str, query: str) -> str | None:
    for suffix, reason in _HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return reason
    if host.endswith("list-manage.com") and _MAILCHIMP_PROFILE.search(path):
        return "preferences"
    for reason, pattern in _PATH_PATTERNS:
        if pattern.search(path):
            return reason
    for key, value in parse_qsl(query, keep_blank_values=True):
        if _QUERY_WORDS.search(key) or _QUERY_WORDS.fullmatch(value):
            return "unsubscribe"
    return None
