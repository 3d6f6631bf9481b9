"""`canonical_url` maps every spelling of a page to one form and never raises."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.canonical import TRACKING_PARAMS, TRACKING_PREFIXES, canonical_url
from providers.normalize import link_fields

CASES = [
    # case of scheme and host; path case kept
    ("HTTPS://Shop.EXAMPLE.org/Spring", "https://shop.example.org/Spring"),
    # default ports dropped, other ports kept, leading zeros read as a number
    ("http://example.org:80/a", "http://example.org/a"),
    ("https://example.org:443/a", "https://example.org/a"),
    ("https://example.org:80/a", "https://example.org:80/a"),
    ("http://example.org:8080/a", "http://example.org:8080/a"),
    ("http://example.org:0080/a", "http://example.org/a"),
    ("http://example.org:" + "0" * 5000 + "8080/a", "http://example.org:8080/a"),
    ("http://example.org:/a", "http://example.org/a"),
    # http and https stay distinct
    ("http://example.org/a", "http://example.org/a"),
    # empty path, trailing slashes; dot segments are not resolved
    ("https://example.org", "https://example.org/"),
    ("https://example.org/", "https://example.org/"),
    ("https://example.org/spring/", "https://example.org/spring"),
    ("https://example.org/spring//", "https://example.org/spring"),
    ("https://example.org/a/../b", "https://example.org/a/../b"),
    # fragment dropped
    ("https://example.org/a#top", "https://example.org/a"),
    ("https://example.org/a?x=1#top?y=2", "https://example.org/a?x=1"),
    # userinfo dropped; a trailing dot on the host dropped
    ("https://user:secret@example.org/a", "https://example.org/a"),
    ("https://example.org./a", "https://example.org/a"),
    # tracking parameters removed, case-insensitively
    ("https://e.org/a?utm_source=cio&utm_medium=email", "https://e.org/a"),
    ("https://e.org/a?UTM_Campaign=x&size=m", "https://e.org/a?size=m"),
    ("https://e.org/a?gclid=1&fbclid=2&msclkid=3&_kx=4&mc_eid=5&size=m", "https://e.org/a?size=m"),
    ("https://e.org/a?hsCtaTracking=1&_hsenc=2&_hsmi=3&mkt_tok=4&_cio_id=5", "https://e.org/a"),
    ("https://e.org/a?mtm_campaign=x&pk_campaign=y&_gl=z&id=7", "https://e.org/a?id=7"),
    # similar-looking keys that are not tracking stay
    ("https://e.org/a?utm=1&gclid_x=2&source=3", "https://e.org/a?gclid_x=2&source=3&utm=1"),
    # other parameters kept and sorted by key, repeated keys in their order, blanks kept
    ("https://e.org/a?size=m&color=red", "https://e.org/a?color=red&size=m"),
    ("https://e.org/a?b=2&a=1&b=1&b=3", "https://e.org/a?a=1&b=2&b=1&b=3"),
    ("https://e.org/a?empty=&flag", "https://e.org/a?empty=&flag="),
    ("https://e.org/a?&&", "https://e.org/a"),
    # one encoding for the query: `+`, `%20` and escaped readable characters
    ("https://e.org/s?q=red+shoes", "https://e.org/s?q=red%20shoes"),
    ("https://e.org/s?q=red%20shoes", "https://e.org/s?q=red%20shoes"),
    ("https://e.org/s?next=%2Fcart%3Fa%3D1", "https://e.org/s?next=/cart?a%3D1"),
    ("https://e.org/s?q=a%2Bb&r=%e2%82%ac", "https://e.org/s?q=a%2Bb&r=%E2%82%AC"),
    ("https://e.org/s?q=\u20ac", "https://e.org/s?q=%E2%82%AC"),
    ("https://e.org/s?bad=%FF", "https://e.org/s?bad=%FF"),
    # one encoding for the path (RFC 3986 6.2.2), encoded slashes kept
    ("https://e.org/%7euser/caf%c3%a9", "https://e.org/~user/caf%C3%A9"),
    ("https://e.org/caf\u00e9 menu", "https://e.org/caf%C3%A9%20menu"),
    ("https://e.org/a%2fb", "https://e.org/a%2Fb"),
    # IPv6 in compressed form, IPv4 as sent, unicode hosts lower-cased but not converted
    ("http://[2001:DB8:0:0::1]:8080/x", "http://[2001:db8::1]:8080/x"),
    ("http://[::1]/", "http://[::1]/"),
    ("http://192.0.2.1/x", "http://192.0.2.1/x"),
    ("https://B\u00dcCHER.example/", "https://b\u00fccher.example/"),
    ("https://ex%41mple.org/", "https://example.org/"),
    # surrounding whitespace
    ("  https://e.org/a \n", "https://e.org/a"),
]

NOT_URLS = [
    "mailto:dana@example.org",
    "tel:+15551234567",
    "sms:+15551234567",
    "javascript:alert(1)",
    "ftp://example.org/file",
    "#top",
    "/relative/path",
    "relative",
    "//example.org/protocol-relative",
    "http:example.org",
    "https://",
    "https:///path",
    "https://user@/path",
    "http://:80/",
    "http://./",
    "",
    "   ",
    "https://[::1",
    "https://::1]/",
    "https://[not-ipv6]/",
    "https://[192.0.2.1]/",
    "https://[::1]junk/",
    "https://[v1.fe]/",  # IPvFuture: valid syntax, no host anyone can visit
    "http://example.org:99999/",
    "http://example.org:abc/",
    "http://example.org:-1/",
    "http://example.org:" + "9" * 5000 + "/",
    "http://example.org:8\u0668/",
    "http://exa mple.org/",
    "http://exa\x01mple.org/",
    "http://ex%00ample.org/",
    "http://ex%FFample.org/",
    "http://a|b.org/",
    "http://\u2100.org/",
    "http://%E2%84%80.org/",
    "https://e.org/\ud800",
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_form(url: str, expected: str) -> None:
    """Each spelling maps to its documented canonical form."""
    assert canonical_url(url) == expected


@pytest.mark.parametrize("url", NOT_URLS)
def test_not_absolute_http_urls_give_none(url: str) -> None:
    """Other schemes, relative references, bad hosts and bad ports give None, not an error."""
    assert canonical_url(url) is None


@pytest.mark.parametrize(
    ("url", "extra", "expected"),
    [
        ("https://e.org/a?ref=nl&id=1", frozenset({"ref"}), "https://e.org/a?id=1"),
        ("https://e.org/a?REF=nl&id=1", frozenset({"Ref"}), "https://e.org/a?id=1"),
        ("https://e.org/a?ref=nl&id=1", frozenset(), "https://e.org/a?id=1&ref=nl"),
        ("https://e.org/a?utm_source=x", frozenset({"other"}), "https://e.org/a"),
    ],
)
def test_extra_params(url: str, extra: frozenset[str], expected: str) -> None:
    """A source's extra keys are removed too, case-insensitively, on top of the defaults."""
    assert canonical_url(url, extra) == expected


def test_long_urls_are_handled_without_the_cache() -> None:
    """A URL longer than the cache limit still gets its canonical form."""
    url = "https://e.org/" + "a" * 100_000 + "?utm_source=x&z=1"
    assert canonical_url(url) == "https://e.org/" + "a" * 100_000 + "?z=1"


def test_link_fields_carries_the_canonical_form() -> None:
    """Every provider's `link` gets `canonical` next to the URL kept exactly as sent."""
    link = link_fields("https://Shop.example.org/spring/?utm_source=cio", id=7, position=2)
    assert link == {
        "url": "https://Shop.example.org/spring/?utm_source=cio",
        "canonical": "https://shop.example.org/spring",
        "id": "7",
        "host": "shop.example.org",
        "position": 2,
    }
    assert link_fields("mailto:dana@example.org")["canonical"] is None


_KEY = st.text(st.characters(codec="utf-8", exclude_characters="&#"), min_size=1, max_size=8)
_PAIRS = st.lists(st.tuples(_KEY, st.text(max_size=8)), max_size=5)
_TRACKING = st.sampled_from(sorted(TRACKING_PARAMS)) | st.builds(
    "{}{}".format, st.sampled_from(TRACKING_PREFIXES), st.text("abcxyz_", max_size=6)
)
_URLS = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp"]),
    st.sampled_from(["e.org", "Shop.Example.org.", "[::1]", "u:p@e.org:8080", "e.org:443"]),
    st.text(max_size=20).map(lambda path: "/" + path),
    st.text(max_size=30),
)


def _is_tracking(key: str) -> bool:
    return key.lower() in TRACKING_PARAMS or key.lower().startswith(TRACKING_PREFIXES)


def _query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@given(st.text(max_size=200) | _URLS)
def test_never_raises_and_is_idempotent(url: str) -> None:
    """Any text gives None or an http(s) URL that is its own canonical form."""
    canonical = canonical_url(url)
    if canonical is not None:
        assert canonical.startswith(("http://", "https://"))
        assert canonical_url(canonical) == canonical


@given(
    path=st.text(max_size=20),
    pairs=_PAIRS,
    tracking=st.lists(st.tuples(_TRACKING, st.text(max_size=8)), min_size=1, max_size=4),
    where=st.integers(min_value=0, max_value=5),
)
def test_tracking_params_do_not_change_the_canonical_form(
    path: str, pairs: list[tuple[str, str]], tracking: list[tuple[str, str]], where: int
) -> None:
    """Adding tracking parameters anywhere in the query gives the same canonical form."""
    pairs = [(k, v) for k, v in pairs if not _is_tracking(k)]
    base = f"https://e.org/{quote(path)}"
    tracked = [*pairs[:where], *tracking, *pairs[where:]]
    plain = canonical_url(f"{base}?{_query(pairs)}")
    assert plain is not None
    assert canonical_url(f"{base}?{_query(tracked)}") == plain


@given(pairs=_PAIRS, plus=st.booleans())
def test_two_encodings_of_a_query_agree(pairs: list[tuple[str, str]], plus: bool) -> None:
    """`+` or `%20` for spaces, escaped or raw safe characters: one canonical form."""
    escaped = _query(pairs)
    spaced = escaped.replace("%20", "+") if plus else escaped
    raw = "&".join(f"{quote(k, safe='/:@,')}={quote(v, safe='/:@,')}" for k, v in pairs)
    forms = {canonical_url(f"https://e.org/p?{query}") for query in (escaped, spaced, raw)}
    assert len(forms) == 1
