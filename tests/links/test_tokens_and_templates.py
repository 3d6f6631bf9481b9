"""Contact tokens and destination templates: signing, tampering, filling, falling back."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connector.links.settings import TriggerLinkSettings, TriggerLinksSettings
from connector.links.template import (
    MAX_QUERY_VALUE,
    TRAILING,
    base_destination,
    base_problem,
    encode_value,
    fill,
    template_problems,
)
from connector.links.tokens import MAC_BYTES, _mac, sign, verify

KEY = b"0123456789abcdef-secret"


@given(st.binary(max_size=200), st.text(max_size=20), st.text(min_size=1, max_size=40))
def test_the_mac_is_hmac_sha256(secret: bytes, slug: str, contact: str) -> None:
    """The MAC from the key's cached pads equals `hmac`'s, keys past the block size too."""
    expected = hmac.new(secret, f"{slug}\x00{contact}".encode(), hashlib.sha256).digest()
    assert _mac(secret, slug, contact) == expected[:MAC_BYTES]


def test_a_token_verifies_for_its_slug_only() -> None:
    """The signed contact comes back on its own slug, and on no other."""
    token = sign(KEY, "spring", "u_42")
    assert verify(KEY, "spring", token) == "u_42"
    assert verify(KEY, "autumn", token) is None
    assert verify(b"another-key-0123456", "spring", token) is None


@pytest.mark.parametrize("tail", [*TRAILING, ").", "'."])
def test_punctuation_stuck_to_a_token_is_dropped(tail: str) -> None:
    """A token pasted with the sentence's full stop or a closing bracket still verifies."""
    assert verify(KEY, "spring", sign(KEY, "spring", "u_42") + tail) == "u_42"


@pytest.mark.parametrize(
    ("size", "filled"), [(MAX_QUERY_VALUE, True), (MAX_QUERY_VALUE + 1, False)]
)
def test_an_oversized_query_value_is_not_filled_in(size: int, filled: bool) -> None:
    """Kilobytes from a crafted click URL fall back to the base destination."""
    result = fill("https://x.example/s?p={query.p}", {}, None, {"p": "v" * size})
    assert (result.missing == (), result.url.endswith("v" * size)) == (filled, filled)
    if not filled:
        assert (result.url, result.missing) == ("https://x.example/s", ("query.p",))


def test_a_tampered_token_is_anonymous() -> None:
    """Changing the contact or the MAC, or sending garbage, gives None (never raises)."""
    token = sign(KEY, "spring", "u_42")
    contact, _, mac = token.partition(".")
    forged = sign(KEY, "spring", "u_43").partition(".")[0] + "." + mac
    for bad in (forged, contact + "." + mac[::-1], contact, "", "..", "%%%.%%%", "x" * 600):
        assert verify(KEY, "spring", bad) is None
    assert verify(None, "spring", token) is None  # no secret configured: all anonymous


_TOKEN = sign(KEY, "spring", "u_42")  # "dV80Mg.<22 characters>": both last ones carry spare bits
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize(
    "changed",
    [_TOKEN[:-1] + c for c in _B64 if c != _TOKEN[-1]]
    + [_TOKEN + "=", _TOKEN + "==", _TOKEN[:-1] + "*" + _TOKEN[-1], _TOKEN.replace("-", "+")]
    + [f"{_TOKEN.partition('.')[0][:-1]}{c}.{_TOKEN.partition('.')[2]}" for c in "hij"]
    + ["dV80Mg=." + _TOKEN.partition(".")[2]],
)
def test_any_changed_character_makes_a_token_anonymous(changed: str) -> None:
    """Base64 decoders ignore a last character's spare bits, padding and stray characters;
    a token changed there is still not ours, so the click is anonymous."""
    assert verify(KEY, "spring", _TOKEN) == "u_42"
    assert verify(KEY, "spring", changed) is None


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("https://go.example/pre/", None),
        ("http://127.0.0.1:8080", None),
        ("https://go.example/p?z=1", "query or fragment"),
        ("https://go.example/#f", "query or fragment"),
        ("go.example.com", "absolute"),
        ("go.example.com/?ref=1", "absolute"),
    ],
)
def test_a_base_url_must_take_a_path_after_it(base: str, problem: str | None) -> None:
    """`/t/<slug>` after a query or fragment would not be a path: the person would land on
    the home page with no click recorded. The config refuses such a base_url by name."""
    found = base_problem(base)
    assert (found is None) if problem is None else (found is not None and problem in found)
    if problem is None:
        assert TriggerLinksSettings(base_url=base).base_url == base
    else:
        with pytest.raises(ValidationError, match="base_url"):
            TriggerLinksSettings(base_url=base)


@pytest.mark.parametrize("fallback", ["https://y.example/{contact}", "https://y.example/?v={x}"])
def test_a_fallback_url_with_placeholders_is_refused(fallback: str) -> None:
    """Nothing fills a disabled link's fallback, so `{contact}` would reach the shop as
    `%7Bcontact%7D`."""
    with pytest.raises(ValidationError, match="fallback_url: placeholders are not filled"):
        TriggerLinkSettings(slug="s", destination="https://x.example/", fallback_url=fallback)


@pytest.mark.parametrize(
    ("destination", "problem"),
    [
        ("https://acme.test\\@evil.test/", "backslash"),  # browsers go to evil.test
        ("https://acme.test/a\\b", "backslash"),
        ("https://acme.test/?id={query.c}", "contact token's parameter"),
        ("https://acme.test/?id={query.cid}", None),
        ("https://acme.test/a%5Cb?id={contact}", None),
    ],
)
def test_a_destination_that_would_not_go_where_it_says_is_refused(
    destination: str, problem: str | None
) -> None:
    """A backslash moves the host in browsers (acme.test\\@evil.test is evil.test), and
    {query.c} could never be filled: `c` carries the contact token, so the link would always
    fall back to its base."""
    if problem is None:
        assert TriggerLinkSettings(slug="s", destination=destination).destination == destination
    else:
        with pytest.raises(ValidationError, match=problem):
            TriggerLinkSettings(slug="s", destination=destination)


@given(st.text(max_size=80), st.text(max_size=80))
def test_verify_never_raises(slug: str, token: str) -> None:
    """Any string is either our token or None."""
    result = verify(KEY, slug, token)
    assert result is None or isinstance(result, str)


@given(st.text(min_size=1, max_size=40))
def test_every_contact_round_trips(contact: str) -> None:
    """Any non-empty contact id (unicode, dots, spaces) survives sign then verify."""
    assert verify(KEY, "s", sign(KEY, "s", contact)) == contact


@given(st.text(max_size=30) | st.from_regex(r"[A-Za-z0-9_.~-]{0,30}", fullmatch=True))
def test_a_filled_value_is_encoded_as_quote_encodes_it(value: str) -> None:
    """The encoder's shortcut for plain values gives what `quote(value, safe="")` gives."""
    assert encode_value(value) == quote(value, safe="")


def test_placeholders_are_filled_and_url_encoded() -> None:
    """contact, query and values are percent-encoded, so they cannot add parameters."""
    filled = fill(
        "https://x.example/p/{values.page}?who={contact}&ref={query.ref}",
        {"page": "a/b"},
        "u&1=2",
        {"ref": "sms #1"},
    )
    assert filled.url == "https://x.example/p/a%2Fb?who=u%261%3D2&ref=sms%20%231"
    assert filled.missing == ()


@pytest.mark.parametrize(
    ("template", "base"),
    [
        ("https://x.example/sale?c={contact}", "https://x.example/sale"),
        ("https://x.example/u/{contact}/cart?a=1", "https://x.example/u/"),
        ("https://x.example/a#{query.frag}", "https://x.example/a"),
        ("https://x.example/{query.p}", "https://x.example/"),
    ],
)
def test_an_unfillable_template_falls_back_to_its_base(template: str, base: str) -> None:
    """An anonymous click or a missing query value goes to the base destination."""
    filled = fill(template, {}, None, {})
    assert filled.url == base == base_destination(template)
    assert filled.missing


@pytest.mark.parametrize(
    ("destination", "values", "problem"),
    [
        ("ftp://x.example/", {}, "http"),
        ("/relative", {}, "absolute"),
        ("javascript:alert(1)", {}, "absolute"),
        ("https://{query.host}/", {}, "scheme or host"),
        ("https://x.example{contact}/", {}, "scheme or host"),
        ("https://x.example/{nope}", {}, "unknown placeholder"),
        ("https://x.example/{values.v}", {}, "names no entry"),
        ("https://x.example/{contact", {}, "unbalanced"),
        ("https://x.example/a b", {}, "spaces"),
    ],
)
def test_bad_destinations_are_refused(
    destination: str, values: dict[str, str], problem: str
) -> None:
    """Only absolute http(s) URLs, placeholders only after the host and only known ones."""
    problems = template_problems(destination, values)
    assert problems and problem in " ".join(problems)


def test_a_good_template_has_no_problems() -> None:
    """All three kinds of placeholder in path and query are accepted."""
    good = "https://x.example:8443/{values.v}/?c={contact}&q={query.utm_source}"
    assert template_problems(good, {"v": "1"}) == []
