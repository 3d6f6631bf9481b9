"""One delivery attempt: render, sign, send, classify, schedule, log one line.

The worker (which owns the outbox) claims due deliveries, calls `Sender.attempt` for each
and stores the `AttemptResult`. Everything here is per attempt and stateless between
attempts, so a restart loses nothing: the retry schedule is computed from the job's own
attempt number and first-attempt time (see policy.py).

Request headers: `content-type: application/json`, `user-agent`, `idempotency-key` (the
delivery id, for receivers that de-duplicate without verifying signatures; IETF draft
https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/), the Standard
Webhooks headers when the action has a secret, and the action's configured headers. Actions
with `format = "cloudevents"` send CloudEvents 1.0 instead (cloud_events.py), signed the same.

Each request names its action's destination policy (`[delivery]` plus the action's own
`allow_networks`) in a request extension; the client's transport refuses any other address
at connect time (guard.py). A refused destination is a dead letter at once: no retry can
make a private address public.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import orjson
import structlog

from connector.delivery import cloud_events
from connector.delivery.addresses import DestinationPolicy, RefusedDestination
from connector.delivery.body import encode, render
from connector.delivery.client import USER_AGENT, deliver
from connector.delivery.deadlines import Deadlines
from connector.delivery.exchange import Route
from connector.delivery.guard import POLICY_EXTENSION
from connector.delivery.policy import DELIVERED, Decision, RetryPolicy
from connector.delivery.settings import DeliverySettings, HttpAction, LogAction
from connector.delivery.signing import Signer
from connector.logging import EventLog

ERROR_CHARS = 200
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DRAIN_BYTES = 64 * 1024  # read (and drop) up to this much so the connection can be reused
_KEPT_BYTES = ERROR_CHARS * 4  # enough UTF-8 for ERROR_CHARS characters
_log = structlog.get_logger("connector.delivery")
_EVENT = "delivery.attempt"


# Plain (not frozen) dataclasses on the per-attempt path: a frozen one's __init__ sets each
# field through object.__setattr__, 0.9 against 0.2 µs a construction (timeit).
@dataclass(slots=True)
class DeliveryJob:
    delivery_id: str
    action_id: str
    # The normalised event, `event.model_dump(mode="json")`; None: decoded from `body` when
    # an action needs the value (a template, CloudEvents, a log action).
    event: dict[str, Any] | None
    attempt: int  # 1-based number of this attempt
    first_attempt_at: datetime | None  # None on the first attempt
    now: datetime
    # The event as stored in the outbox: orjson's own output, so for `body = "event"` these
    # are the bytes `encode(render(event))` would give, sent without decoding them.
    body: bytes | None = None

    def value(self) -> dict[str, Any]:
        """The event as a value (decoded once, on first use)."""
        if self.event is None:
            self.event = orjson.loads(self.body or b"null")
        return self.event


@dataclass(slots=True)
class AttemptResult:
    outcome: Literal["delivered", "retry", "dead"]
    status_code: int | None
    error: str | None  # short, secret-free; at most ~200 chars of a response body
    next_attempt_at: datetime | None  # set for "retry"
    duration_ms: float


@dataclass(slots=True)
class _Done:
    decision: Decision
    status: int | None = None
    error: str | None = None
    failure: str | None = None  # a content-free code for the log line
    logged_body: Any = None  # only for log actions, whose purpose is to log the event


class _HttpTarget:
    """An HTTP action with its secrets unwrapped once, at construction."""

    def __init__(self, action: HttpAction, delivery: DeliverySettings) -> None:
        self.action = action
        url = httpx.URL(action.url)  # parsed once: httpx's URL parser is pure Python
        extensions = {
            POLICY_EXTENSION: DestinationPolicy.of(delivery.allow_networks, action.allow_networks),
            "timeout": httpx.Timeout(action.timeout).as_dict(),
        }
        self.route = Route(action.method, url, extensions)
        self.signer = Signer(action.secret) if action.secret is not None else None
        # The whole event as plain JSON: the stored bytes are the body (DeliveryJob.body).
        self.sends_stored = action.body == "event" and action.format == "json"
        self.destination = f"{url.scheme}://{url.host}:{url.port or _DEFAULT_PORTS[url.scheme]}"
        self.headers = {
            "Host": url.netloc.decode("ascii"),  # what httpx would add (IDNA-encoded)
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **{name: value.get_secret_value() for name, value in action.headers.items()},
        }

    def envelope(
        self, value: Any, payload: bytes, job: DeliveryJob
    ) -> tuple[bytes, dict[str, str]]:
        """The exact body to sign and send, and the headers its format adds."""
        if self.action.format == "cloudevents":
            return cloud_events.encode(
                value, payload, job.value(), job.delivery_id, self.action.mode
            )
        return payload, {}

    def request_headers(
        self, delivery_id: str, now: datetime, payload: bytes, extra: dict[str, str]
    ) -> dict[str, str]:
        headers = {**self.headers, **extra, "idempotency-key": delivery_id}
        if self.signer is not None:
            headers.update(self.signer.headers(delivery_id, now, payload))
        headers["Content-Length"] = str(len(payload))
        return headers


class Sender:
    """Makes single delivery attempts over the process's shared client."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        actions: Mapping[str, HttpAction | LogAction],
        policy: RetryPolicy,
    ) -> None:
        self._client = client
        # The configured logger, assembled now rather than by structlog's lazy proxy at
        # every line: the proxy's lookup was a third of the attempt line's cost (2.4 of
        # 7 µs, measured in-process). Processors are shared, so capture_logs still sees it;
        # EventLog writes its lines without structlog's generic layers (logging.py).
        self._log = EventLog(_log.bind())
        self._actions = dict(actions)
        self._policy = policy
        self._deadlines = Deadlines()
        self._targets = {
            action_id: _HttpTarget(action, policy.settings)
            for action_id, action in actions.items()
            if isinstance(action, HttpAction)
        }

    @property
    def settings(self) -> DeliverySettings:
        return self._policy.settings

    def destination(self, action_id: str) -> str:
        """Where an action's attempts go (scheme, host, port): the unit of
        `destination_concurrency`. Log actions share one key; they never wait on a receiver."""
        target = self._targets.get(action_id)
        return target.destination if target is not None else "log:"

    def timeout(self, action_id: str) -> float:
        """The longest one attempt of this action can take."""
        target = self._targets.get(action_id)
        return target.action.timeout if target is not None else 0.0

    async def attempt(self, job: DeliveryJob) -> AttemptResult:
        """Run one attempt; never raises except on cancellation."""
        started = time.perf_counter()
        done = await self._run(job)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        decision = done.decision
        fields: dict[str, Any] = {
            "delivery_id": job.delivery_id,
            "action": job.action_id,
            "attempt": job.attempt,
            "outcome": decision.outcome,
            "status": done.status,
            "duration_ms": duration_ms,
        }
        if done.failure is not None:
            fields["failure"] = done.failure
        if decision.next_attempt_at is not None:
            fields["next_attempt_at"] = decision.next_attempt_at.isoformat()
        if done.logged_body is not None:
            fields["event_body"] = done.logged_body
        # Synchronous on purpose: structlog's async methods hop to a thread per call.
        self._log.line("warning" if decision.outcome == "dead" else "info", _EVENT, fields)
        return AttemptResult(
            outcome=decision.outcome,
            status_code=done.status,
            error=done.error,
            next_attempt_at=decision.next_attempt_at,
            duration_ms=duration_ms,
        )

    async def _run(self, job: DeliveryJob) -> _Done:
        action = self._actions.get(job.action_id)
        if action is None:
            error = f"unknown action {job.action_id!r}: not in the current configuration"
            return _Done(Decision("dead"), error=error, failure="unknown_action")
        target = self._targets.get(job.action_id)
        if target is not None and target.sends_stored and job.body is not None:
            return await self._send(target, job, job.body, {})
        try:
            value = render(job.value(), action.body)
            payload = encode(value)
        except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
            # orjson's messages name types and limits, never values
            error = f"body could not be encoded as JSON: {str(exc)[:ERROR_CHARS]}"
            return _Done(Decision("dead"), error=error, failure="body")
        if target is None:  # a log action
            return _Done(DELIVERED, logged_body=value)
        try:
            payload, extra = target.envelope(value, payload, job)
        except (TypeError, ValueError) as exc:  # the SDK's messages name attributes, not values
            error = f"CloudEvent could not be built: {str(exc)[:ERROR_CHARS]}"
            return _Done(Decision("dead"), error=error, failure="cloudevents")
        return await self._send(target, job, payload, extra)

    async def _send(
        self, target: _HttpTarget, job: DeliveryJob, payload: bytes, extra: dict[str, str]
    ) -> _Done:
        # httpx timeouts apply per phase; this bounds the whole exchange (slow-loris safe).
        timeout = target.action.timeout
        deadline = self._deadlines.start(timeout)
        try:
            # Not `client.build_request`: the client adds no headers or cookies we want, and
            # merging them cost ~5 % of an attempt (py-spy, fanout.py). Host and
            # Content-Length are among our headers, so no transport adds them.
            headers = target.request_headers(job.delivery_id, job.now, payload, extra)
            try:
                reply = await deliver(self._client, target.route, headers, payload)
            except asyncio.CancelledError:
                if deadline.timed_out():
                    raise TimeoutError from None
                raise
            finally:
                self._deadlines.finish(deadline, timeout)
        except Exception as exc:  # cancellation (BaseException) propagates
            decision = self._decide(exc, job)
            error, failure = _describe(exc, target)
            return _Done(decision, error=_with_reason(error, decision), failure=failure)
        if reply.body is not None:  # the body came with the headers (engine.py)
            snippet = reply.body
        else:
            assert reply.stream is not None
            snippet = await _read_rest(reply.stream, deadline.at)  # and frees the connection
        status = reply.status
        if 200 <= status < 300:  # the policy's first rule, without its three calls
            return _Done(DELIVERED, status=status)
        decision = self._decide(status, job, reply.retry_after)
        error = _with_reason(_status_error(status, snippet[:_KEPT_BYTES]), decision)
        return _Done(decision, status=status, error=error, failure=_status_failure(status))

    def _decide(
        self, result: int | BaseException, job: DeliveryJob, retry_after: str | None = None
    ) -> Decision:
        return self._policy.decide(
            result,
            attempt=job.attempt,
            first_attempt_at=job.first_attempt_at,
            now=job.now,
            retry_after=retry_after,
        )


async def _read_rest(response: httpx.Response, deadline: float) -> bytes:
    """The start of a body still arriving, read until the attempt's deadline at most."""
    try:
        async with asyncio.timeout_at(deadline):
            return await _read_prefix(response)
    except TimeoutError:
        return b""  # the status already arrived and decides; the body is only context
    finally:
        with contextlib.suppress(Exception):  # a failed close cannot change the outcome
            await response.aclose()


async def _read_prefix(response: httpx.Response) -> bytes:
    kept = bytearray()
    total = 0
    try:
        async for chunk in response.aiter_bytes():
            if len(kept) < _KEPT_BYTES:
                kept += chunk[: _KEPT_BYTES - len(kept)]
            total += len(chunk)
            if total > _DRAIN_BYTES:
                break
    except httpx.HTTPError:
        pass  # a broken body does not change the status the receiver gave
    return bytes(kept)


def _status_error(status: int, snippet: bytes) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed; configure the final URL"
    text = " ".join(snippet.decode("utf-8", "replace").split())
    if len(text) > ERROR_CHARS:
        text = text[:ERROR_CHARS] + "…"
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


def _status_failure(status: int) -> str:
    return "redirect" if 300 <= status < 400 else f"http_{status}"


_URL_IN_TEXT = re.compile(r"(?i)\b(?:https?|wss?)://[^\s'\"<>]+")


def _describe(exc: Exception, target: _HttpTarget) -> tuple[str, str]:
    """A short message and a log code for an exception, without URLs or secrets."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {target.action.timeout:g}s", "timeout"
    if isinstance(exc, RefusedDestination):
        return str(exc), f"refused:{exc.code}"
    name = type(exc).__name__
    # Exception texts may quote the URL (aiohttp's do), whose path or query can be a credential.
    detail = _URL_IN_TEXT.sub("<url>", str(exc))[:ERROR_CHARS]
    message = f"{name}: {detail}" if detail else name
    if isinstance(exc, httpx.TransportError):
        return message, f"transport:{name}"
    return f"unexpected {message}", f"unexpected:{name}"


def _with_reason(error: str, decision: Decision) -> str:
    return f"{error}; {decision.reason}" if decision.reason else error
