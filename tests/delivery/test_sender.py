"""One delivery attempt end to end against respx: request shape, signing, outcomes, logging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest
import respx
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from connector import __version__
from connector.delivery.client import make_client
from connector.delivery.engine import AiohttpEngine
from connector.delivery.guard import GuardedTransport
from connector.delivery.policy import RetryPolicy
from connector.delivery.sender import AttemptResult, DeliveryJob, Sender
from connector.delivery.settings import DeliverySettings, HttpAction, LogAction
from tests.delivery.conftest import RESPX, SECRET, T0, URL, http_action, make_event

TOKEN = "Bearer tok-SECRET-123"


def job(**overrides: Any) -> DeliveryJob:
    fields: dict[str, Any] = {
        "delivery_id": "dlv_01",
        "action_id": "crm",
        "event": make_event(),
        "attempt": 1,
        "first_attempt_at": None,
        "now": T0,
    }
    fields.update(overrides)
    return DeliveryJob(**fields)


def attempt(
    the_job: DeliveryJob,
    *actions: HttpAction | LogAction,
    settings: DeliverySettings | None = None,
) -> AttemptResult:
    """Run one attempt with a fresh client from `make_client`, as the app's lifespan would."""
    settings = settings or DeliverySettings(budget_seconds=3600, max_backoff_seconds=60)

    async def run() -> AttemptResult:
        async with make_client(settings) as client:
            sender = Sender(client, {a.id: a for a in actions}, RetryPolicy(settings))
            return await sender.attempt(the_job)

    return asyncio.run(run())


@RESPX
def test_posts_the_event_as_json_with_our_headers() -> None:
    """The request is a JSON POST of the event with UA, idempotency key and custom headers."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    result = attempt(job(), http_action(headers={"Authorization": TOKEN}))
    assert (result.outcome, result.status_code, result.error) == ("delivered", 200, None)
    assert result.next_attempt_at is None
    assert result.duration_ms >= 0
    request = route.calls.last.request
    assert request.method == "POST"
    assert orjson.loads(request.content) == make_event()
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"click-connector/{__version__}"
    assert request.headers["idempotency-key"] == "dlv_01"
    assert request.headers["authorization"] == TOKEN
    assert "webhook-signature" not in request.headers
    # Set by the sender itself, as httpx would: the request skips httpx's own header pass.
    assert request.headers["host"] == "127.0.0.1:9"
    assert request.headers["content-length"] == str(len(request.content))


@RESPX
def test_signed_request_verifies_and_keeps_its_id_across_retries() -> None:
    """With a secret, Standard Webhooks headers verify; `webhook-id` is the delivery id."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(204))
    action = http_action(secret=SECRET)
    now = datetime.now(UTC)
    attempt(job(now=now), action)
    attempt(job(now=now + timedelta(seconds=30), attempt=2, first_attempt_at=now), action)
    first, retry = (call.request for call in route.calls)
    for request in (first, retry):
        assert Webhook(SECRET).verify(request.content, dict(request.headers)) == make_event()
        assert request.headers["webhook-id"] == request.headers["idempotency-key"] == "dlv_01"
    assert int(retry.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) == 30


@RESPX
def test_mapped_body_and_method_are_sent() -> None:
    """A body mapping and PUT/PATCH shape the request a no-code builder receives."""
    route = RESPX.patch(URL).mock(return_value=httpx.Response(200))
    action = http_action(
        method="PATCH", body={"email": "recipient.email", "bot": {"score": "bot.score"}}
    )
    assert attempt(job(), action).outcome == "delivered"
    assert orjson.loads(route.calls.last.request.content) == {
        "email": "ada@example.com",
        "bot": {"score": 35},
    }


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (301, "dead"),
        (302, "dead"),
        (307, "dead"),
        (308, "dead"),
        (400, "dead"),
        (401, "dead"),
        (404, "dead"),
        (410, "dead"),
        (422, "dead"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
    ],
)
@RESPX
def test_status_codes_map_to_outcomes(status: int, outcome: str) -> None:
    """Each status class gives its outcome; retries get a later time, failures an error."""
    RESPX.post(URL).mock(
        return_value=httpx.Response(status, headers={"location": "https://x.example/"})
    )
    result = attempt(job(), http_action())
    assert (result.outcome, result.status_code) == (outcome, status)
    assert (result.next_attempt_at is not None) == (outcome == "retry")
    if result.next_attempt_at is not None:
        assert result.next_attempt_at > T0
    assert (result.error is None) == (outcome == "delivered")


@RESPX
def test_redirects_are_not_followed_and_say_why() -> None:
    """A 3xx makes exactly one request and tells the operator to configure the final URL."""
    route = RESPX.post(URL).mock(
        return_value=httpx.Response(302, headers={"location": "https://elsewhere.example/"})
    )
    RESPX.post("https://elsewhere.example/").mock(return_value=httpx.Response(200))
    result = attempt(job(), http_action())
    assert route.call_count == 1
    assert len(RESPX.calls) == 1
    assert result.error == "HTTP 302: redirects are not followed; configure the final URL"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError(f"All connection attempts failed for {URL}"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
@RESPX
def test_transport_errors_retry_without_leaking_the_url(error: Exception) -> None:
    """Network failures retry with a short error naming the failure but not the URL."""
    RESPX.post(URL).mock(side_effect=error)
    result = attempt(job(), http_action())
    assert (result.outcome, result.status_code) == ("retry", None)
    assert result.next_attempt_at is not None
    assert result.error is not None
    assert result.error.startswith(type(error).__name__)
    assert URL not in result.error


@RESPX
def test_whole_attempt_timeout_retries() -> None:
    """A receiver slower than the action's timeout is abandoned and retried."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    RESPX.post(URL).mock(side_effect=slow)
    result = attempt(job(), http_action(timeout=0.05))
    assert (result.outcome, result.error) == ("retry", "timed out after 0.05s")
    assert result.duration_ms < 2000


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120), (format_datetime(T0 + timedelta(minutes=10), usegmt=True), 600)],
)
@RESPX
def test_retry_after_is_honoured(header: str, seconds: int) -> None:
    """`Retry-After` in seconds or as an HTTP-date sets the next attempt time."""
    RESPX.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": header}))
    result = attempt(job(), http_action())
    assert result.outcome == "retry"
    assert result.next_attempt_at == T0 + timedelta(seconds=seconds)


@RESPX
def test_budget_exhaustion_dead_letters_with_the_reason() -> None:
    """A 503 after the budget is spent dead-letters, keeping the last status and why."""
    RESPX.post(URL).mock(return_value=httpx.Response(503, text="maintenance"))
    late = job(attempt=30, first_attempt_at=T0 - timedelta(seconds=3599))
    result = attempt(late, http_action())
    assert (result.outcome, result.status_code, result.next_attempt_at) == ("dead", 503, None)
    assert result.error == "HTTP 503: maintenance; retry budget of 1h spent after 30 attempts"


@RESPX
def test_error_keeps_at_most_200_chars_of_the_response_body() -> None:
    """Receiver bodies are quoted briefly (whitespace collapsed), never in full."""
    RESPX.post(URL).mock(return_value=httpx.Response(500, text="boom\n  " + "x" * 5000))
    result = attempt(job(), http_action())
    assert result.error is not None
    assert result.error.startswith("HTTP 500: boom xxx")
    assert len(result.error.removeprefix("HTTP 500: ")) <= 201  # 200 chars and an ellipsis


@RESPX
def test_unknown_action_dead_letters_without_a_request() -> None:
    """A delivery for an action no longer configured dead-letters with a clear error."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    result = attempt(job(action_id="gone"), http_action())
    assert (result.outcome, result.status_code) == ("dead", None)
    assert result.error == "unknown action 'gone': not in the current configuration"
    assert not route.called


@RESPX
def test_unencodable_event_dead_letters() -> None:
    """An event JSON cannot carry (an integer beyond 64 bits) dead-letters instead of crashing."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    result = attempt(job(event={"metadata": {"n": 2**70}}), http_action())
    assert result.outcome == "dead"
    assert result.error == "body could not be encoded as JSON: Integer exceeds 64-bit range"
    assert not route.called


def test_log_action_logs_the_event_in_its_one_line() -> None:
    """A log action writes the (mapped) event to the log and counts as delivered."""
    action = LogAction(id="demo", body={"email": "recipient.email"})
    with capture_logs() as logs:
        result = attempt(job(action_id="demo"), action)
    assert (result.outcome, result.status_code, result.error) == ("delivered", None, None)
    assert len(logs) == 1
    assert logs[0]["event"] == "delivery.attempt"
    assert logs[0]["event_body"] == {"email": "ada@example.com"}


@pytest.mark.parametrize(
    ("respond", "outcome"),
    [
        (lambda: httpx.Response(200, text="ok " + TOKEN), "delivered"),
        (lambda: httpx.Response(500, text="err " + TOKEN), "retry"),
        (lambda: httpx.Response(404), "dead"),
    ],
)
@RESPX
def test_each_attempt_logs_one_summary_line_without_secrets(
    respond: Callable[[], httpx.Response], outcome: str
) -> None:
    """Exactly one `delivery.attempt` line per attempt; no headers, secrets, URL or bodies."""
    RESPX.post(URL).mock(return_value=respond())
    action = http_action(secret=SECRET, headers={"Authorization": TOKEN})
    with capture_logs() as logs:
        attempt(job(attempt=2, first_attempt_at=T0), action)
    assert len(logs) == 1
    line = logs[0]
    assert line["event"] == "delivery.attempt"
    assert {k: line[k] for k in ("delivery_id", "action", "attempt", "outcome")} == {
        "delivery_id": "dlv_01",
        "action": "crm",
        "attempt": 2,
        "outcome": outcome,
    }
    assert line["status"] == respond().status_code
    assert isinstance(line["duration_ms"], float)
    text = repr(line)
    for secret in (SECRET, TOKEN, "tok-SECRET", URL, "ada@example.com"):
        assert secret not in text


@RESPX
def test_cookies_set_by_a_receiver_are_not_sent_back() -> None:
    """The shared client keeps no cookie jar, so one response cannot change later requests."""
    route = RESPX.post(URL).mock(
        return_value=httpx.Response(200, headers={"set-cookie": "sid=abc; Path=/"})
    )
    settings = DeliverySettings()

    async def twice() -> None:
        async with make_client(settings) as client:
            sender = Sender(client, {"crm": http_action()}, RetryPolicy(settings))
            await sender.attempt(job())
            await sender.attempt(job(delivery_id="dlv_02"))
            assert len(client.cookies) == 0

    asyncio.run(twice())
    assert route.call_count == 2
    assert "cookie" not in route.calls.last.request.headers


@RESPX
def test_a_closed_client_sends_nothing_and_the_delivery_is_retried() -> None:
    """Sending straight to the transport keeps `AsyncClient.send`'s refusal once the client is
    closed (at shutdown): nothing goes out, and the delivery waits for its retry."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    settings = DeliverySettings()

    async def after_close() -> AttemptResult:
        async with make_client(settings) as client:
            sender = Sender(client, {"crm": http_action()}, RetryPolicy(settings))
        return await sender.attempt(job())

    result = asyncio.run(after_close())
    assert (result.outcome, result.status_code) == ("retry", None)
    assert result.error is not None and result.error.startswith("unexpected RuntimeError")
    assert not route.called


def test_make_client_is_bounded_and_does_not_follow_redirects() -> None:
    """The shared client has one connection per concurrent attempt (aiohttp's engine), never
    follows redirects and ignores proxy variables in the environment."""
    client = make_client(DeliverySettings(concurrency=40))
    try:
        transport = client._transport
        assert isinstance(transport, GuardedTransport)
        engine = transport.inner(transport.default)
        assert isinstance(engine, AiohttpEngine)

        async def limit() -> int:
            session = engine._make_session()
            assert session.connector is not None
            connections = session.connector.limit
            await session.close()
            return connections

        assert asyncio.run(limit()) == 40
        assert client.follow_redirects is False
        assert client._trust_env is False
    finally:
        asyncio.run(client.aclose())


def test_the_engine_is_mockable_with_respx() -> None:
    """respx intercepts at httpx's client (`using="httpx"`), above aiohttp's engine."""
    with respx.mock(using="httpx") as router:
        route = router.post(URL).mock(return_value=httpx.Response(200))
        result = attempt(job(), http_action(secret=SECRET))
    assert result.outcome == "delivered"
    assert route.calls.last.request.headers["webhook-id"] == "dlv_01"


@RESPX
@pytest.mark.parametrize(
    ("overrides", "stored"),
    [
        ({}, True),  # the whole event as JSON: the stored bytes, sent as they are
        ({"body": {"email": "recipient.email"}}, False),  # a template: decoded, rendered
        ({"format": "cloudevents"}, False),
    ],
)
def test_a_job_from_the_outbox_sends_what_the_decoded_event_would(
    overrides: dict[str, Any], stored: bool
) -> None:
    """A job carrying the stored JSON sends the same bytes as one carrying the event."""
    route = RESPX.post(URL).mock(return_value=httpx.Response(200))
    action = http_action(secret=SECRET, **overrides)
    attempt(job(), action)
    from_event = route.calls.last.request
    outbox = job(event=None, body=orjson.dumps(make_event()))
    attempt(outbox, action)
    from_body = route.calls.last.request
    assert from_body.content == from_event.content
    assert from_body.headers["webhook-signature"] == from_event.headers["webhook-signature"]
    assert (outbox.event is None) == stored  # decoded only where the action needed the value
