"""Body rendering: the whole event, or a no-code mapping with nested objects and defaults."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from connector.delivery.body import encode, render
from connector.delivery.template import FieldRef, Template
from tests.delivery.conftest import http_action, make_event


def template(raw: dict[str, Any]) -> Template:
    """The typed template config loading produces for `raw`."""
    body = http_action(body=raw).body
    assert isinstance(body, dict)
    return body


def test_event_mode_sends_the_normalised_event_unchanged(event: dict[str, Any]) -> None:
    """`body = "event"` renders the event dict itself, byte-identical once encoded."""
    assert render(event, "event") is event
    assert orjson.loads(encode(render(event, "event"))) == event


def test_mapping_shapes_flat_and_nested_output(event: dict[str, Any]) -> None:
    """A builder-style mapping picks fields by path into flat and nested output keys."""
    body = template(
        {
            "email": "recipient.email",
            "link": "link.url",
            "bot": {"score": "bot.score", "first_reason": "bot.reasons.0.code"},
        }
    )
    assert render(event, body) == {
        "email": "ada@example.com",
        "link": "https://shop.example.com/p/1?utm_source=news&x=1",
        "bot": {"score": 35, "first_reason": "ua.headless"},
    }


def test_url_parts_and_metadata_resolve_like_rules(event: dict[str, Any]) -> None:
    """Paths use the shared resolver: URL parts, query params, metadata and list items."""
    body = template(
        {
            "host": "link.host",
            "path": {"path": "link.path", "default": "?"},
            "utm": "link.query.utm_source",
            "plan": "metadata.plan",
            "tag": "metadata.tags.-1",
        }
    )
    assert render(event, body) == {
        "host": "shop.example.com",
        "path": "/p/1",
        "utm": "news",
        "plan": "pro",
        "tag": "b",
    }


def test_missing_fields_become_default_or_null(event: dict[str, Any]) -> None:
    """An absent path gives its default, or null when none is configured."""
    body = template(
        {
            "campaign": {"path": "metadata.campaign", "default": "none"},
            "coupon": "link.query.coupon",
            "nested": {"deep": {"path": "bot.reasons.5.code", "default": 0}},
        }
    )
    assert render(event, body) == {"campaign": "none", "coupon": None, "nested": {"deep": 0}}


def test_null_fields_also_take_the_default(event: dict[str, Any]) -> None:
    """A field the ESP did not send (null in the event) gets the default, not null."""
    assert event["message"]["campaign_id"] is None
    body = template({"campaign": {"path": "message.campaign_id", "default": "unknown"}})
    assert render(event, body) == {"campaign": "unknown"}


def test_present_falsy_values_are_kept_over_the_default() -> None:
    """Zero, false and empty strings are values, so the default does not replace them."""
    event = make_event(test=False, metadata={"n": 0, "s": ""})
    body = template(
        {
            "test": {"path": "test", "default": True},
            "n": {"path": "metadata.n", "default": 9},
            "s": {"path": "metadata.s", "default": "x"},
        }
    )
    assert render(event, body) == {"test": False, "n": 0, "s": ""}


def test_encoding_is_compact_utf8_json() -> None:
    """Encoded bodies are compact JSON with non-ASCII kept as UTF-8."""
    assert encode({"a": "é", "b": [1, None]}) == '{"a":"é","b":[1,null]}'.encode()


_keys = st.text(min_size=1, max_size=8)
_segment = st.text(
    st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), blacklist_characters="."),
    min_size=1,
    max_size=6,
)
_paths = st.lists(
    _segment | st.sampled_from(["link", "bot", "recipient", "email", "0"]), min_size=1, max_size=4
).map(".".join)
_nodes = st.recursive(
    st.builds(
        FieldRef, path=_paths, default=st.none() | st.integers(-(2**63), 2**63 - 1) | st.text()
    ),
    lambda children: st.dictionaries(_keys, children, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(_keys, _nodes, min_size=1, max_size=4))
def test_any_template_renders_to_encodable_json_of_the_same_shape(body: Template) -> None:
    """Whatever paths a template holds, rendering returns its keys and encodes as JSON."""
    rendered = render(make_event(), body)
    assert rendered.keys() == body.keys()
    assert orjson.loads(encode(rendered)) == rendered
