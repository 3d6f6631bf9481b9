"""A click's `link` fields worked out once per template equal `link_fields` of the filled URL."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.links.fields import _plan, click_link_fields
from connector.links.template import fill
from providers.canonical import canonical_url
from providers.normalize import link_fields

# any text without lone surrogates, and plain ids (the encoders' fast path)
VALUE = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.from_regex(
    r"[A-Za-z0-9_.~-]{0,12}", fullmatch=True
)
KEY = st.sampled_from(["who", "v", "B", "a b", "utm_source", "gclid", "ref", "x%41", "é"])
LITERAL = st.sampled_from(["", "1", "a+b", "%41", "%zz", "x y", "{", "ü"])


def _expected(url: str, slug: str, ignore: frozenset[str]) -> dict[str, object]:
    fields = link_fields(url, id=slug)
    if ignore:
        fields["canonical"] = canonical_url(url, ignore)
    return fields


@st.composite
def templates(draw: st.DrawFn) -> str:
    """`https://Shop.example.org/p?k={contact}&...#...`: values, literals, repeated keys."""
    pieces = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(KEY)
        value = draw(st.sampled_from(["{contact}", "{values.v}", "{query.q}"]) | LITERAL)
        pieces.append(f"{key}={value}" if draw(st.booleans()) else key)
    fragment = draw(st.sampled_from(["", "#top", "#{contact}"]))
    return "https://Shop.example.org:443/p/" + ("?" + "&".join(pieces) if pieces else "") + fragment


@given(templates(), VALUE, VALUE, VALUE, st.sampled_from([frozenset(), frozenset({"REF"})]))
def test_the_fields_equal_link_fields_of_the_filled_url(
    destination: str, contact: str, value: str, query: str, ignore: frozenset[str]
) -> None:
    """Any values in a template's query values: the same host and canonical form."""
    filled = fill(destination, {"v": value}, contact, {"q": query})
    fields = click_link_fields(destination, filled, "spring", ignore)
    assert fields == _expected(filled.url, "spring", ignore)


@pytest.mark.parametrize(
    "destination",
    [
        "https://shop.example.org/{contact}",  # in the path
        "https://shop.example.org/p?{contact}=1",  # in a key
        "https://shop.example.org/p?who=u-{contact}",  # part of a value
        "https://shop.example.org/p?who=zqxmarker0zqx&c={contact}",  # the marker itself
    ],
)
def test_other_templates_take_link_fields(destination: str) -> None:
    """Placeholders elsewhere than a whole query value: no plan, the plain way, same fields."""
    filled = fill(destination, {}, "a/b?c=d&e", {})
    assert _plan(destination, frozenset()) is None
    assert click_link_fields(destination, filled, "s", frozenset()) == _expected(
        filled.url, "s", frozenset()
    )


def test_a_whole_query_value_template_has_a_plan() -> None:
    """The common `?who={contact}` form takes the worked-out way (the test above covers it)."""
    assert _plan("https://shop.example.org/spring?who={contact}", frozenset()) is not None
