"""ESPs' own bot classifications reach the detector as metadata.esp_bot_hint."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from providers import mailgun, mandrill
from schemas import BOT_HINT_KEY
from tests.support.fixtures import cases


def test_mailgun_client_type_becomes_the_bot_hint() -> None:
    """Mailgun's client-info.client-type is passed on, lower-cased."""
    case = next(c for c in cases("mailgun") if c.name == "click")
    payload = json.loads(case.body)
    payload["event-data"].setdefault("client-info", {})["client-type"] = "Robot"
    result = mailgun.parse(case.request(body=json.dumps(payload).encode()), case.source())
    assert result.events[0].event.metadata[BOT_HINT_KEY] == "robot"


def test_mandrill_parsed_agent_type_becomes_the_bot_hint() -> None:
    """Mandrill's user_agent_parsed.type is passed on, lower-cased."""
    case = next(c for c in cases("mandrill") if c.name == "click")
    events = json.loads(dict(parse_qsl(case.body.decode()))["mandrill_events"])
    events[0]["user_agent_parsed"] = {"type": "Robot", "ua_family": "Googlebot"}
    body = urlencode({"mandrill_events": json.dumps(events)}).encode()
    result = mandrill.parse(case.request(body=body), case.source())
    assert result.events[0].event.metadata[BOT_HINT_KEY] == "robot"
