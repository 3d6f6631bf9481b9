"""The redirect's shortcuts agree with what they replace: the query parse with `parse_qsl`,
a `Location` taken as filled with quoting it, a decoded token part with `base64`."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, quote

from hypothesis import given
from hypothesis import strategies as st

from connector.links.redirect import _SAFE, _kept_as_is, parse_query
from connector.links.template import fill
from connector.links.tokens import _unb64

query_text = st.lists(
    st.sampled_from(["a", "c", "=", "&", "%", "%2F", "+", "x.y", "é", "", "-_", "=="]),
    max_size=12,
).map("".join)


@given(query_text)
def test_parse_query_equals_parse_qsl(text: str) -> None:
    """Same names and values, blanks left out, the last repeat winning, encoded or not."""
    raw = text.encode("utf-8")
    assert parse_query(raw) == dict(parse_qsl(raw.decode("latin-1")))


@given(
    st.sampled_from(
        [
            "https://x.example/p?who={contact}&v={query.v}",
            "https://x.example/{values.v}/{contact}#top",
            "https://x.example/caf\u00e9/{contact}",
            "https://x.example/a b?q={contact}",
            "https://x.example/plain",
        ]
    ),
    st.none() | st.text(max_size=20),
    st.text(max_size=20),
)
def test_a_kept_location_is_what_quoting_gives(template: str, contact: str | None, v: str) -> None:
    """When a template qualifies, every URL filled from it (fallbacks too) quotes to itself;
    templates with spaces or non-ASCII text do not qualify."""
    url = fill(template, {"v": v}, contact, {"v": v} if v else {}).url
    if _kept_as_is(template):
        assert quote(url, safe=_SAFE) == url
    else:
        assert " " in template or not template.isascii()


@given(st.binary(max_size=64))
def test_unb64_decodes_what_urlsafe_b64encode_wrote(data: bytes) -> None:
    """Unpadded URL-safe base64 reads back as the bytes, like `urlsafe_b64decode`."""
    text = base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert _unb64(text) == data == base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
