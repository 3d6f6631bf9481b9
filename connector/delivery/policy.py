"""When to retry a delivery, and when to give up: the retry policy as data (tenacity objects).

Deliveries live in the outbox and must survive restarts, so nothing sleeps in-process:
after each failed attempt the policy turns (attempt number, first attempt time, now) into
the time of the next attempt, which the worker stores. It does so by driving tenacity's own
wait and stop strategies with a `RetryCallState`, in the order `tenacity.Retrying` uses
(wait first, then stop with `upcoming_sleep` set), so the schedule means exactly what the
tenacity docs say.

Schedule: `initial * 2**(n-1)` seconds after failure n, capped at `max_backoff`, plus
`uniform(0, jitter)`. The jitter is added *after* the cap (tenacity's
`wait_exponential_jitter` clamps after adding it), so deliveries that have been failing for
hours do not retry in lockstep. `stop_before_delay` gives up as soon as the next attempt
would fall at or beyond the budget, so no attempt is ever scheduled past it.

Classification:
  2xx                        delivered
  408, 429, 5xx              retry (honouring `Retry-After`, within the budget)
  transport errors/timeouts  retry
  3xx                        dead: we do not follow redirects. Re-POSTing a signed body to
                             wherever a `Location` points could leak it to another host, and a
                             redirect is a configuration fact a retry cannot change; the error
                             tells the operator to configure the final URL.
  other 4xx, 1xx, >= 600     dead at once
  refused destination        dead at once: the SSRF guard (guard.py) refused the address; no
                             retry makes it allowed, only a configuration change does
  other exceptions           retry: an unexpected fault of ours (e.g. a client closed during
                             shutdown) must not lose a delivery; the budget still bounds it.
"""

from __future__ import annotations

import email.utils
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base

from connector.delivery.addresses import RefusedDestination
from connector.delivery.settings import DeliverySettings

Outcome = Literal["delivered", "retry", "dead"]
RETRY_STATUSES = frozenset({408, 429})
_DELAY_SECONDS = re.compile(r"^[0-9]+$")


@dataclass(slots=True)  # not frozen: one per attempt, and frozen init costs ~0.7 µs more
class Decision:
    """What to do after one attempt; `reason` explains a give-up for the dead-letter record."""

    outcome: Outcome
    next_attempt_at: datetime | None = None
    reason: str | None = None


# A delivered attempt's decision, shared: decisions are never changed once made.
DELIVERED = Decision("delivered")


class RetryPolicy:
    """Built once from `DeliverySettings` and shared by every attempt."""

    def __init__(self, settings: DeliverySettings) -> None:
        self.settings = settings
        stop: stop_base = stop_before_delay(settings.budget_seconds)
        if settings.max_attempts is not None:
            stop = stop | stop_after_attempt(settings.max_attempts)
        self.retrying = AsyncRetrying(
            wait=wait_exponential(
                multiplier=settings.initial_backoff_seconds, max=settings.max_backoff_seconds
            )
            + wait_random(0, settings.jitter_seconds),
            stop=stop,
            reraise=True,
        )

    @staticmethod
    def classify(result: int | BaseException) -> Outcome:
        """A status code or the exception an attempt raised, mapped to an outcome."""
        if isinstance(result, RefusedDestination):
            return "dead"
        if isinstance(result, BaseException):
            return "retry"
        if 200 <= result < 300:
            return "delivered"
        if result in RETRY_STATUSES or 500 <= result < 600:
            return "retry"
        return "dead"

    def retryable(self, result: int | BaseException) -> bool:
        return self.classify(result) == "retry"

    def decide(
        self,
        result: int | BaseException,
        *,
        attempt: int,
        first_attempt_at: datetime | None,
        now: datetime,
        retry_after: str | None = None,
    ) -> Decision:
        """Classify, then schedule the next attempt or give up."""
        outcome = self.classify(result)
        if outcome == "delivered":
            return DELIVERED
        if outcome != "retry":
            return Decision(outcome)
        delay = parse_retry_after(retry_after, now)
        next_at = self.next_attempt_at(
            attempt=attempt, first_attempt_at=first_attempt_at, now=now, retry_after=delay
        )
        if next_at is None:
            return Decision("dead", reason=self._give_up_reason(attempt, delay))
        return Decision("retry", next_at)

    def next_attempt_at(
        self,
        *,
        attempt: int,
        first_attempt_at: datetime | None,
        now: datetime,
        retry_after: float | None = None,
    ) -> datetime | None:
        """When attempt `attempt + 1` is due, or None when the stop strategy says give up.

        `attempt` is the 1-based number of the attempt that just failed; `first_attempt_at`
        None means it was the first. `retry_after` (seconds) is a floor on the wait.
        """
        now = _aware(now)
        first = now if first_attempt_at is None else _aware(first_attempt_at)
        state = RetryCallState(self.retrying, fn=None, args=(), kwargs={})
        state.attempt_number = max(1, attempt)
        state.start_time = 0.0  # tenacity measures on a monotonic clock; ours is `elapsed`
        state.outcome_timestamp = max(0.0, (now - first).total_seconds())
        wait = float(self.retrying.wait(state))
        if retry_after is not None:
            wait = max(wait, retry_after)
        state.upcoming_sleep = wait
        if self.retrying.stop(state):
            return None
        # Round up to the microsecond so the result is never earlier than Retry-After.
        return now + timedelta(microseconds=math.ceil(wait * 1_000_000))

    def _give_up_reason(self, attempt: int, retry_after: float | None) -> str:
        cap = self.settings.max_attempts
        attempts = f"{attempt} attempt{'s' if attempt != 1 else ''}"
        if cap is not None and attempt >= cap:
            return f"gave up after {attempts} (max_attempts={cap})"
        budget = _duration(self.settings.budget_seconds)
        if retry_after is not None:
            return f"Retry-After of {_duration(retry_after)} reaches past the {budget} budget"
        return f"retry budget of {budget} spent after {attempts}"


def _duration(seconds: float) -> str:
    """`1h`, `1.5h`, `5m`, `30s`, `0.25s`: the largest unit that reads as a short number."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and (seconds / size) * 10 % 1 == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:.3g}s" if seconds < 100 else f"{seconds:.0f}s"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date), or None.

    RFC 9110 section 10.2.3: https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
    A date in the past means "now" (0); anything unparsable is ignored.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.match(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, (_aware(when) - _aware(now)).total_seconds())


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC (the outbox stores UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
