"""`link.canonical`: a clicked URL as people think of it, so rules and reports see one page.

The same page reaches us under many spellings: `HTTPS://Shop.example.org:443/spring/`,
`https://shop.example.org/spring?utm_source=cio&size=m#top`, each recipient's own click id.
`canonical_url` maps them to one form, `scheme://host[:port]/path[?query]`, with:

* scheme and host lower-cased, a trailing dot and the default port (80, 443) removed, an
  IPv6 host in its compressed form, an internationalised host in Unicode (its `xn--`
  punycode labels decoded). http and https stay distinct: the event schema asks to
  normalise the scheme's case, not the scheme, and a site may serve different pages on each.
* userinfo (`user:password@`) dropped: it never chooses the page, and this field is stored,
  matched by rules and delivered downstream, where a credential must not travel. It also
  shows the real host of `https://bank.example@evil.example/` plainly.
* the path kept as sent except for its encoding (characters a browser would escape are
  escaped, escapes of unreserved characters decoded, hex digits upper-cased: RFC 3986
  section 6.2.2), empty becoming `/` and trailing slashes removed. Dot segments (`..`) are
  not resolved: links with them are rare, servers differ in how they treat them, and a
  canonical form that only re-encodes what the sender wrote cannot invent a path.
* the fragment dropped (it never reaches the server).
* the query decoded once (`+` and `%20` both mean a space) and re-encoded one way, tracking
  parameters removed (`TRACKING_PARAMS`, `TRACKING_PREFIXES` and the caller's extra keys,
  all case-insensitive), blank values kept (`?a` becomes `a=`), the rest stably sorted by
  key so repeated keys keep their order (`?b=1&a=2&b=0` becomes `a=2&b=1&b=0`).

Anything that is not an absolute http(s) URL with a host gives None, never an exception.
It runs for every click on the webhook hot path, so results are kept in an LRU cache: a
cached call takes ~0.1 µs, an uncached one 1.5-3.5 µs when `urlsplit`'s own cache already
holds the URL (`link_fields` has just split it for `host`) and 3-6 µs cold (timeit, Python
3.11; `parse_qsl` and `urlencode` alone took 4 µs, hence the hand-written split). URLs over
`_CACHE_MAX_LENGTH` characters skip the cache so a sender cannot fill memory with them.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from functools import lru_cache
from operator import itemgetter
from urllib.parse import quote, unquote, urlsplit

# Exact query keys, lower-cased, that only say who clicked or which ad or email they came
# from and never choose the page. Most are on Brave's query filter list, whose comments link
# the evidence for each: https://github.com/brave/brave-core/blob/master/components/query_filter/utils.cc
TRACKING_PARAMS = frozenset(
    {
        # Ad click ids. Google Ads auto-tagging (gclid, gbraid, wbraid), Campaign Manager
        # (dclid), Merchant Center (srsltid): https://support.google.com/google-ads/answer/9744275
        "gclid",
        "gbraid",
        "wbraid",
        "dclid",
        "srsltid",
        "fbclid",  # Meta
        "igshid",  # Instagram share id
        "msclkid",  # Microsoft Advertising
        "twclid",  # X / Twitter Ads
        "ttclid",  # TikTok Ads click id (TikTok Events API, "click ID")
        "li_fat_id",  # LinkedIn Insight Tag: learn.microsoft.com/linkedin/marketing/conversions
        "yclid",  # Yandex Direct
        "ysclid",  # Yandex search
        # Analytics. Google's cross-domain linkers: `_ga` (analytics.js) and `_gl` (gtag.js),
        # https://developers.google.com/tag-platform/devguides/cross-domain; Adobe Analytics
        # campaign code `s_cid`; Matomo/Piwik campaign keys (`mtm_*` is a prefix below),
        # https://matomo.org/faq/how-to/faq_120
        "_ga",
        "_gl",
        "s_cid",
        "pk_campaign",
        "pk_kwd",
        "pk_keyword",
        "pk_source",
        "pk_medium",
        "pk_content",
        "pk_cid",
        "piwik_campaign",
        "piwik_kwd",
        "matomo_campaign",
        # Email and marketing-automation platforms: the campaign and recipient ids they add to
        # every link of a message.
        "mc_cid",  # Mailchimp campaign id (eCommerce link tracking)
        "mc_eid",  # Mailchimp member id
        "_hsenc",  # HubSpot contact token
        "_hsmi",  # HubSpot message id
        "__hssc",  # HubSpot session cookies carried across domains
        "__hstc",
        "__hsfp",
        "hsctatracking",  # HubSpot CTA (hsCtaTracking)
        "mkt_tok",  # Marketo. Brave keeps it on unsubscribe pages, where it names the person;
        # the page is the same unsubscribe page for everyone, which is what this form is for.
        "_kx",  # Klaviyo exchange id ("email to website tracking")
        # Customer.io, docs.customer.io/release-notes/2021-07-12-auto-identify-js-snippet
        "_cio_id",
        "ml_subscriber",  # MailerLite
        "ml_subscriber_hash",
        "vero_id",  # Vero
        "vero_conv",
        "oly_enc_id",  # Omeda
        "oly_anon_id",
        "__s",  # Drip
        "bsft_clkid",  # Blueshift
        "bsft_uid",
        "ss_email_id",  # Squarespace Email Campaigns
        "ck_subscriber_id",  # Kit (ConvertKit); Brave scopes it like mkt_tok, same reason
        "vgo_ee",  # ActiveCampaign
        "_bhlid",  # beehiiv
        "et_rid",  # Salesforce Marketing Cloud (ExactTarget) recipient id
        "rb_clickid",  # on Brave's and Firefox's strip lists
        "wickedid",  # Wicked Reports
    }
)

# Key prefixes, lower-cased: Google's `utm_*` campaign parameters and Matomo's `mtm_*` ones
# (https://matomo.org/faq/reports/advanced-how-to-manually-build-campaign-tracking-urls).
TRACKING_PREFIXES = ("utm_", "mtm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CACHE_MAX_LENGTH = 2048
# WHATWG "forbidden domain code points" (https://url.spec.whatwg.org/#forbidden-domain-code-point)
_FORBIDDEN_HOST = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/:@!$&'()*+,;=%"  # RFC 3986 pchar, and `%` so existing escapes stay as they are
_QUERY_SAFE = "/:@!$'()*,?"  # readable where harmless; `&`, `=`, `+`, `;`, `#` always escaped
_WHITESPACE = "".join(map(chr, range(0x21)))  # C0 controls and space, stripped at both ends


def canonical_url(url: str, extra_params: frozenset[str] = frozenset()) -> str | None:
    """`url` as people think of it, or None if it is not an absolute http(s) URL with a host.

    `extra_params` are further query keys a source treats as tracking (case-insensitive).
    """
    if len(url) > _CACHE_MAX_LENGTH:
        return _canonical(url, extra_params)
    return _cached(url, extra_params)


def _canonical(url: str, extra_params: frozenset[str]) -> str | None:
    try:
        url.encode()  # lone surrogates (from a JSON `\ud800`) are not text, let alone a URL
        parts = urlsplit(url.strip(_WHITESPACE))
    except ValueError:  # bad IPv6 brackets, NFKC tricks in the host; UnicodeError included
        return None
    if parts.scheme not in _DEFAULT_PORTS:
        return None
    authority = _authority(parts.scheme, parts.netloc)
    if authority is None:
        return None
    path = _path(parts.path)
    query = _query(parts.query, extra_params)
    return f"{parts.scheme}://{authority}{path}{'?' if query else ''}{query}"


# Keyed by the URL and the extra keys (a frozenset hashes once), so a source's own list is
# cached as well as the default one.
_cached = lru_cache(maxsize=4096)(_canonical)


def _authority(scheme: str, netloc: str) -> str | None:
    """`host[:port]` without userinfo or the default port, or None if either is invalid."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        inside, _, rest = hostport[1:].partition("]")
        host = _ipv6(inside)
        if host is None or (rest and rest[0] != ":"):
            return None
        port_text = rest[1:]
    else:
        raw, _, port_text = hostport.partition(":")
        host = _domain(raw)
        if host is None:
            return None
    if not port_text:
        return host
    if not (port_text.isascii() and port_text.isdigit()):
        return None
    digits = port_text.lstrip("0") or "0"
    if len(digits) > 5 or int(digits) > 65535:  # int() refuses over 4,300 digits: test length
        return None
    port = int(digits)
    return host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"


def _ipv6(text: str) -> str | None:
    try:
        return f"[{ipaddress.IPv6Address(text)}]"
    except ValueError:
        return None


def _domain(raw: str) -> str | None:
    """A lower-cased domain or IPv4 host (punycode labels as Unicode), None if not a host.

    Escapes are decoded first, as browsers do (`ex%41mple.com` is example.com).
    """
    try:
        host = unquote(raw, errors="strict") if "%" in raw else raw
    except UnicodeDecodeError:
        return None
    host = host.lower().rstrip(".")
    if not host or _FORBIDDEN_HOST.search(host):
        return None
    # Characters such as U+2100 expand to `a/c` under IDNA's NFKC: not a host (urlsplit agrees)
    if not host.isascii() and _FORBIDDEN_HOST.search(unicodedata.normalize("NFKC", host)):
        return None
    return _unicode_labels(host) if "xn--" in host else host


def _unicode_labels(host: str) -> str:
    """`xn--` labels in the Unicode form a sender writes (`xn--bcher-kva.example` is
    bücher.example, the same page): one link, whichever spelling the ESP reports."""
    labels = host.split(".")
    for index, label in enumerate(labels):
        if label.startswith("xn--"):
            try:
                labels[index] = label.encode("ascii").decode("idna").lower()
            except UnicodeError:  # not valid punycode: kept as sent
                continue
    return ".".join(labels)


def _path(path: str) -> str:
    path = path.rstrip("/")
    if not path:
        return "/"
    return _ESCAPE.sub(_normal_escape, quote(path, safe=_PATH_SAFE))


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else match.group(0).upper()


def _query(query: str, extra_params: frozenset[str]) -> str:
    """The query without tracking keys, sorted, each key and value decoded and re-encoded once.

    Split by hand rather than with parse_qsl/urlencode: the same result in half the time.
    """
    if not query:
        return ""
    extra = {key.lower() for key in extra_params}
    kept: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if piece:
            key, _, value = piece.partition("=")
            key = _decode(key)
            if not _is_tracking(key.lower(), extra):
                kept.append((key, _decode(value)))
    kept.sort(key=itemgetter(0))  # stable: repeated keys keep their relative order
    return "&".join(f"{encode_query_text(key)}={encode_query_text(value)}" for key, value in kept)


def _decode(text: str) -> str:
    """Form decoding: `+` is a space; surrogateescape keeps bytes that are not UTF-8 (`%FF`)
    so that `encode_query_text` writes them back exactly."""
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text, errors="surrogateescape") if "%" in text else text


def encode_query_text(text: str) -> str:
    """One query key or value as the canonical URL writes it (trigger links fill their
    templates' placeholders the same way: connector/links/fields.py)."""
    if text.isascii() and text.isalnum():  # most keys and values: a third of quote's time
        return text
    return quote(text, safe=_QUERY_SAFE, errors="surrogateescape")


def _is_tracking(key: str, extra: set[str]) -> bool:
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES) or key in extra
