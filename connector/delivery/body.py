"""The request body an action sends: the whole normalised event, or a mapped object.

Mappings let no-code builders (Zapier, Make, n8n) receive flat, stable keys of their own
choosing instead of our nested schema. Paths resolve with `connector.fields.resolve`, the
same resolver rules use, so `link.host` or `link.query.utm_source` work here too.
"""

from __future__ import annotations

from typing import Any

import orjson

from connector.delivery.template import BodySpec, FieldRef, Template
from connector.fields import MISSING, resolve


def render(event: dict[str, Any], body: BodySpec) -> Any:
    """The JSON value to send for `event` (as `model_dump(mode="json")` gives it)."""
    if body == "event":
        return event
    return _render_template(event, body)


def _render_template(event: dict[str, Any], template: Template) -> dict[str, Any]:
    return {key: _render_node(event, node) for key, node in template.items()}


def _render_node(event: dict[str, Any], node: FieldRef | Template) -> Any:
    if isinstance(node, FieldRef):
        value = resolve(event, node.path)
        # Null counts as absent: events carry every schema field, mostly as null when the
        # ESP did not send it, so a default that only covered absent keys would rarely apply.
        return node.default if value is MISSING or value is None else value
    return _render_template(event, node)


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; these exact bytes are what we sign and send."""
    return orjson.dumps(value)
