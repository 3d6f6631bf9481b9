"""`format = "cloudevents"`: what the sender produces, parsed by a receiver built with the SDK."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from pydantic import ValidationError
from standardwebhooks import Webhook

from connector.delivery.client import make_client
from connector.delivery.policy import RetryPolicy
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings, HttpAction
from tests.delivery.conftest import RESPX, SECRET, T0, URL, http_action, make_event
from tests.support.servers import downstream

MODES = ["structured", "binary"]
TEMPLATE = {"email": "recipient.email", "link": "link.url", "score": "bot.score"}
SETTINGS = DeliverySettings(budget_seconds=3600, allow_networks=["127.0.0.0/8"])


def job(**overrides: Any) -> DeliveryJob:
    fields: dict[str, Any] = {
        "delivery_id": "dlv_01",
        "action_id": "crm",
        "event": make_event(),
        "attempt": 1,
        "first_attempt_at": None,
        "now": datetime.now(UTC),
    }
    fields.update(overrides)
    return DeliveryJob(**fields)


def attempt(the_job: DeliveryJob, action: HttpAction) -> AttemptResult:
    async def run() -> AttemptResult:
        async with make_client(SETTINGS) as client:
            return await Sender(client, {action.id: action}, RetryPolicy(SETTINGS)).attempt(the_job)

    return asyncio.run(run())


def receive(headers: dict[str, str], body: bytes) -> BaseCloudEvent:
    """What a receiver does: verify the signature over the raw body, then parse with the SDK."""
    Webhook(SECRET).verify(body, headers)
    return from_http_event(HTTPMessage(headers=headers, body=body))


def ce_action(mode: str, **overrides: Any) -> HttpAction:
    return http_action(format="cloudevents", mode=mode, secret=SECRET, **overrides)


@RESPX
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("body", ["event", TEMPLATE], ids=["event", "template"])
def test_sdk_receiver_parses_what_we_send(mode: str, body: Any) -> None:
    """Both modes parse with the SDK into our attributes, with the event (or the template's
    output) as data, and the Standard Webhooks signature verifies over the bytes sent."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(202))
    result = attempt(job(), ce_action(mode, body=body))
    assert result.outcome == "delivered"
    request = route.calls.last.request
    event = receive(dict(request.headers), request.content)
    assert event.get_attributes() == {
        "specversion": "1.0",
        "id": "dlv_01",
        "source": "/click-connector/cio-prod",
        "type": "com.clickconnector.email.clicked",
        "time": T0,
        "datacontenttype": "application/json",
    }
    expected = (
        make_event()
        if body == "event"
        else {
            "email": "ada@example.com",
            "link": "https://shop.example.com/p/1?utm_source=news&x=1",
            "score": 35,
        }
    )
    assert event.get_data() == expected
    assert request.headers["idempotency-key"] == request.headers["webhook-id"] == "dlv_01"


@RESPX
def test_binary_mode_sends_data_as_the_body_and_attributes_as_headers() -> None:
    """Binary mode: the body is the compact JSON data, attributes ride in ce-* headers."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    attempt(job(), ce_action("binary"))
    request = route.calls.last.request
    assert request.content == orjson.dumps(make_event())
    assert request.headers["content-type"] == "application/json"
    assert request.headers["ce-id"] == "dlv_01"
    assert request.headers["ce-type"] == "com.clickconnector.email.clicked"
    assert request.headers["ce-time"] == "2025-03-01T12:00:00Z"


@RESPX
def test_structured_mode_is_one_signed_cloudevents_document() -> None:
    """Structured mode: one application/cloudevents+json document, no ce-* headers."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    attempt(job(), ce_action("structured"))
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert not [name for name in request.headers if name.lower().startswith("ce-")]
    document = orjson.loads(request.content)
    assert (document["id"], document["data"]) == ("dlv_01", make_event())


@RESPX
@pytest.mark.parametrize("mode", MODES)
def test_a_retry_keeps_the_id_so_receivers_can_deduplicate(mode: str) -> None:
    """The CloudEvents id is the delivery id: the same on every attempt."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    later = datetime.now(UTC) + timedelta(minutes=5)
    attempt(job(), ce_action(mode))
    attempt(job(attempt=2, first_attempt_at=T0, now=later), ce_action(mode))
    ids = [receive(dict(c.request.headers), c.request.content).get_id() for c in route.calls]
    assert ids == ["dlv_01", "dlv_01"]


@RESPX
@pytest.mark.parametrize("kind", ["email.not_clicked", "email.click_timeout"])
def test_the_type_follows_the_event_type(kind: str) -> None:
    """Scheduled events keep their own type under our reverse-DNS prefix."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    attempt(job(event={**make_event(), "type": kind}), ce_action("binary"))
    request = route.calls.last.request
    assert (
        receive(dict(request.headers), request.content).get_type() == f"com.clickconnector.{kind}"
    )


def test_an_event_without_its_attributes_is_a_dead_letter() -> None:
    """An event that cannot fill the required attributes dead-letters instead of crashing."""
    event = {k: v for k, v in make_event().items() if k != "occurred_at"}
    result = attempt(job(event=event), ce_action("structured"))
    assert result.outcome == "dead"
    assert (result.error or "").startswith("CloudEvent could not be built")


@pytest.mark.e2e
@pytest.mark.parametrize("mode", MODES)
def test_a_real_receiver_on_loopback_parses_both_modes(mode: str) -> None:
    """Over a real socket to 127.0.0.1, the SDK parses the request exactly as it arrived."""
    with downstream() as server:
        action = ce_action(mode, url=server.url)
        result = attempt(job(), action)
        [received] = server.wait_for(1)
    assert result.outcome == "delivered", result.error
    event = receive(received.headers, received.body)
    assert (event.get_id(), event.get_source()) == ("dlv_01", "/click-connector/cio-prod")
    assert event.get_data() == make_event()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mode": "binary"}, 'mode applies to format = "cloudevents" only'),
        (
            {"format": "cloudevents", "headers": {"ce-source": "x"}},
            "header 'ce-source': ce-* headers carry CloudEvents attributes we set",
        ),
        ({"format": "xml"}, "Input should be 'json' or 'cloudevents'"),
    ],
)
def test_inconsistent_cloudevents_config_is_rejected(fields: dict[str, Any], message: str) -> None:
    """Config mistakes around `format`/`mode` fail at load, naming the action."""
    with pytest.raises(ValidationError) as caught:
        http_action(**fields)
    assert message in str(caught.value)


def test_json_is_the_default_format() -> None:
    """Existing actions keep sending plain JSON."""
    action = http_action()
    assert (action.format, action.mode) == ("json", "structured")
