"""A generic source's field mapping: the configured paths turned into normalised events."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

from connector.errors import MalformedPayload
from providers.base import ParseResult, Source, WebhookRequest, collect
from providers.generic.paths import _INDEX
from providers.generic.spec import _Spec, _spec
from providers.generic.times import _parse_time
from providers.normalize import link_fields, load_json, origin, text, url_field
from schemas import composite_key, event_id
from schemas.compiled import CompiledEvent, build_event

name = "generic"


def parse(request: WebhookRequest, source: Source) -> ParseResult:
    spec = _spec(source)
    body = load_json(request.body)
    items = _items(body, spec, request)
    if items is None:
        assert spec.events is not None
        return ParseResult(ignored=[f"(nothing at {spec.events.text})"])
    kind_of = partial(_kind, spec, body, request)
    return collect(items, kind_of, partial(_event, spec, body=body, request=request))


def _kind(
    spec: _Spec, body: Any, request: WebhookRequest, item: dict[str, Any]
) -> tuple[str | None, str]:
    """The configured tests decide the type; otherwise the click path's value is the label."""
    if spec.click.test(item, body, request):
        return "email.clicked", ""
    if spec.delivered is not None and spec.delivered.test(item, body, request):
        return "email.delivered", ""
    if spec.sent is not None and spec.sent.test(item, body, request):
        return "email.sent", ""
    kind = text(spec.click.path.get(item, body, request))
    return None, kind[:100] if kind else f"(nothing at {spec.click.path.text})"


def _items(body: Any, spec: _Spec, request: WebhookRequest) -> list[Any] | None:
    """The event items; None when `events_path` leads nowhere (acknowledged, e.g. a ping)."""
    if not isinstance(body, dict | list):
        raise MalformedPayload("expected a JSON object or an array of events")
    if spec.events is None:
        return body if isinstance(body, list) else [body]
    found = spec.events.get(body, body, request)
    if found is None:
        return None
    if isinstance(found, dict | list):
        return found if isinstance(found, list) else [found]
    raise MalformedPayload(f"options.events_path {spec.events.text!r} does not lead to events")


def _event(
    spec: _Spec, kind: str, item: dict[str, Any], body: Any, request: WebhookRequest
) -> CompiledEvent:
    clicked = kind == "email.clicked"

    def get(field: str) -> Any:
        path = spec.fields.get(field)
        return None if path is None else path.get(item, body, request)

    raw_time = get("occurred_at")
    occurred = _parse_time(raw_time, spec.time, spec.fields["occurred_at"].text)
    message = {
        "id": text(get("message.id")),
        "campaign_id": text(get("message.campaign_id")),
        "subject": text(get("message.subject")),
        "link_count": _whole_number(get("message.link_count")),
    }
    recipient = {"email": text(get("recipient.email")), "id": text(get("recipient.id"))}
    url = url_field(get("link.url")) if clicked else None
    if clicked and url is None:
        raise MalformedPayload(f"link.url: no URL at {spec.fields['link.url'].text}")
    if "provider_event_id" in spec.fields:
        provider_event_id = text(get("provider_event_id"))
        if provider_event_id is None:
            where = spec.fields["provider_event_id"].text
            raise MalformedPayload(f"provider_event_id: nothing at {where}")
    else:
        who = recipient["email"] or recipient["id"]
        provider_event_id = composite_key(message["id"], who, url, _raw(raw_time))
    scope = spec.label or f"source:{request.source_id}"
    common: dict[str, Any] = {
        **origin(name, request, provider_event_id, occurred),
        # scoped by `provider_label` (else the source): unrelated senders' ids never collide
        "id": event_id(name, f"{scope}\x1f{provider_event_id}"),
        "recipient": recipient,
        "message": message,
        "metadata": _metadata(spec, get),
    }
    if not clicked:
        return build_event(kind, common)
    assert url is not None
    common["link"] = link_fields(
        url, id=get("link.id"), position=_whole_number(get("link.position"))
    )
    common["client"] = {"user_agent": text(get("client.user_agent")), "ip": text(get("client.ip"))}
    return build_event(kind, common)


def _raw(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _whole_number(value: Any) -> int | None:
    """A count or 0-based index (or a string of one); anything else is unknown, not an error."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _INDEX.match(value.strip()):
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**31 else None


def _metadata(spec: _Spec, get: Callable[[str], Any]) -> dict[str, Any]:
    """The mapped object (a JSON string holding one is decoded), `metadata.<key>`s, `esp`."""
    found: dict[str, Any] = {}
    value = get("metadata")
    if isinstance(value, str) and value.lstrip().startswith("{"):
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(value)
    if isinstance(value, dict):
        found.update(value)
    elif value is not None:
        found["metadata"] = value
    for field in spec.fields:
        if field.startswith("metadata.") and (extra := get(field)) is not None:
            found[field[9:]] = extra
    found["esp"] = spec.label or name
    return found
