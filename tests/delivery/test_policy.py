"""The retry policy: classification, exponential backoff with jitter, Retry-After, budget."""

from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.delivery.policy import RetryPolicy, parse_retry_after
from connector.delivery.settings import DeliverySettings
from tests.delivery.conftest import T0

# conftest settings: budget 3600 s, first backoff 2 s doubling to a 60 s cap, jitter 0-1 s.
BUDGET, INITIAL, CAP, JITTER = 3600, 2, 60, 1


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(policy: RetryPolicy, status: int) -> None:
    """Any 2xx means the receiver took the event."""
    decision = policy.decide(status, attempt=1, first_attempt_at=None, now=T0)
    assert (decision.outcome, decision.next_attempt_at) == ("delivered", None)


@pytest.mark.parametrize("status", [408, 429, 500, 501, 502, 503, 504, 599])
def test_408_429_and_5xx_retry(policy: RetryPolicy, status: int) -> None:
    """Request timeout, rate limiting and server errors are worth another try."""
    assert policy.retryable(status)
    assert policy.decide(status, attempt=1, first_attempt_at=None, now=T0).outcome == "retry"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 451, 499])
def test_other_4xx_dead_letter_at_once(policy: RetryPolicy, status: int) -> None:
    """A client error will not change on retry, so the delivery dead-letters immediately."""
    decision = policy.decide(status, attempt=1, first_attempt_at=None, now=T0)
    assert (decision.outcome, decision.next_attempt_at) == ("dead", None)


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308, 100, 600, 999])
def test_redirects_and_nonstandard_codes_dead_letter(policy: RetryPolicy, status: int) -> None:
    """Redirects are not followed and odd codes are not success: both dead-letter."""
    assert policy.classify(status) == "dead"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("connect"),
        httpx.ReadTimeout("read"),
        httpx.WriteTimeout("write"),
        httpx.PoolTimeout("pool"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("bad framing"),
        TimeoutError(),
        RuntimeError("client closed during shutdown"),
    ],
)
def test_transport_errors_and_unexpected_faults_retry(
    policy: RetryPolicy, error: Exception
) -> None:
    """Network failures, and our own unexpected faults, retry rather than lose the event."""
    decision = policy.decide(error, attempt=1, first_attempt_at=None, now=T0)
    assert decision.outcome == "retry"
    assert decision.next_attempt_at is not None


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6, 7, 20, 500])
def test_backoff_doubles_to_the_cap_plus_jitter(policy: RetryPolicy, attempt: int) -> None:
    """Failure n waits min(initial*2**(n-1), cap) plus 0..jitter seconds."""
    base = min(INITIAL * 2 ** (attempt - 1), CAP)
    for _ in range(20):
        at = policy.next_attempt_at(attempt=attempt, first_attempt_at=T0, now=T0)
        assert at is not None
        assert base <= (at - T0).total_seconds() <= base + JITTER


def test_jitter_spreads_retries_even_at_the_cap(policy: RetryPolicy) -> None:
    """Deliveries failing in step do not retry in lockstep, even once backoff is capped."""
    random.seed(7)
    for attempt in (1, 30):
        waits = {
            policy.next_attempt_at(attempt=attempt, first_attempt_at=T0, now=T0) for _ in range(20)
        }
        assert len(waits) > 10


def test_first_attempt_without_start_time_counts_from_now(policy: RetryPolicy) -> None:
    """`first_attempt_at=None` (first try) schedules within the budget from now."""
    at = policy.next_attempt_at(attempt=1, first_attempt_at=None, now=T0 + timedelta(days=9))
    assert at is not None
    assert at - (T0 + timedelta(days=9)) <= timedelta(seconds=INITIAL + JITTER)


def test_budget_exhaustion_dead_letters(policy: RetryPolicy) -> None:
    """When the next attempt would fall past the budget, the delivery dead-letters."""
    first = T0 - timedelta(seconds=BUDGET - 1)
    decision = policy.decide(503, attempt=40, first_attempt_at=first, now=T0)
    assert (decision.outcome, decision.next_attempt_at) == ("dead", None)
    assert decision.reason is not None
    assert "budget" in decision.reason


@pytest.mark.parametrize(
    ("budget", "reason"),
    [
        (5, "retry budget of 5s spent after 1 attempt"),
        (300, "retry budget of 5m spent after 1 attempt"),
        (5400, "retry budget of 1.5h spent after 1 attempt"),
    ],
)
def test_the_budget_reason_reads_as_people_write_durations(
    settings: DeliverySettings, budget: float, reason: str
) -> None:
    """Not "retry budget of 0.00138889h spent after 1 attempts"."""
    policy = RetryPolicy(settings.model_copy(update={"budget_seconds": budget}))
    first = T0 - timedelta(seconds=budget)
    decision = policy.decide(503, attempt=1, first_attempt_at=first, now=T0)
    assert (decision.outcome, decision.reason) == ("dead", reason)


def test_max_attempts_caps_retries(settings: DeliverySettings) -> None:
    """With `max_attempts` set, the last allowed attempt's failure dead-letters."""
    policy = RetryPolicy(settings.model_copy(update={"max_attempts": 3}))
    assert policy.decide(500, attempt=2, first_attempt_at=T0, now=T0).outcome == "retry"
    decision = policy.decide(500, attempt=3, first_attempt_at=T0, now=T0)
    assert decision.outcome == "dead"
    assert decision.reason == "gave up after 3 attempts (max_attempts=3)"


def test_retry_after_seconds_sets_the_next_attempt(policy: RetryPolicy) -> None:
    """`Retry-After: 120` schedules the next attempt 120 s out (longer than the backoff)."""
    decision = policy.decide(429, attempt=1, first_attempt_at=None, now=T0, retry_after="120")
    assert decision.next_attempt_at == T0 + timedelta(seconds=120)


def test_retry_after_http_date_sets_the_next_attempt(policy: RetryPolicy) -> None:
    """`Retry-After` as an HTTP-date is honoured to the second."""
    header = format_datetime(T0 + timedelta(minutes=5), usegmt=True)
    decision = policy.decide(503, attempt=1, first_attempt_at=None, now=T0, retry_after=header)
    assert decision.next_attempt_at == T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    "header",
    ["0", "1", format_datetime(T0 - timedelta(hours=1), usegmt=True), "soon", "-5", "1.5", ""],
)
def test_short_past_or_bad_retry_after_keeps_the_backoff(policy: RetryPolicy, header: str) -> None:
    """Retry-After is a floor: a short, past or malformed value never shortens the backoff."""
    decision = policy.decide(429, attempt=3, first_attempt_at=T0, now=T0, retry_after=header)
    assert decision.next_attempt_at is not None
    assert 8 <= (decision.next_attempt_at - T0).total_seconds() <= 8 + JITTER


def test_retry_after_beyond_budget_dead_letters(policy: RetryPolicy) -> None:
    """A Retry-After reaching past the budget dead-letters now instead of overshooting it."""
    decision = policy.decide(503, attempt=1, first_attempt_at=None, now=T0, retry_after="7200")
    assert decision.outcome == "dead"
    assert decision.reason is not None
    assert "Retry-After" in decision.reason


def test_parse_retry_after_forms() -> None:
    """Both RFC 9110 forms parse to seconds from now; junk and absence give None."""
    assert parse_retry_after("  30 ", T0) == 30
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", T0) == 60
    assert parse_retry_after("Saturday, 01-Mar-25 12:01:00 GMT", T0) == 60  # obsolete RFC 850
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", T0) == 0
    assert parse_retry_after("tomorrow", T0) is None
    assert parse_retry_after(None, T0) is None


def test_naive_times_are_taken_as_utc(policy: RetryPolicy) -> None:
    """A naive `now` (as some drivers return) is treated as UTC, not local time."""
    naive = T0.replace(tzinfo=None)
    at = policy.next_attempt_at(attempt=1, first_attempt_at=naive, now=naive)
    assert at is not None
    assert at.tzinfo is not None
    assert timedelta(seconds=INITIAL) <= at - T0 <= timedelta(seconds=INITIAL + JITTER)


@given(
    attempt=st.integers(1, 10_000),
    elapsed=st.floats(0, BUDGET * 2, allow_nan=False),
    retry_after=st.none() | st.floats(0, BUDGET * 2, allow_nan=False),
)
def test_next_attempt_is_after_now_and_within_budget(
    attempt: int, elapsed: float, retry_after: float | None
) -> None:
    """For any attempt and age, the next attempt is after now and never past the budget."""
    policy = RetryPolicy(
        DeliverySettings(
            budget_seconds=BUDGET,
            initial_backoff_seconds=INITIAL,
            max_backoff_seconds=CAP,
            jitter_seconds=JITTER,
        )
    )
    now = T0 + timedelta(seconds=elapsed)
    at = policy.next_attempt_at(
        attempt=attempt, first_attempt_at=T0, now=now, retry_after=retry_after
    )
    floor = max(min(INITIAL * 2.0 ** min(attempt - 1, 64), CAP), retry_after or 0)
    if at is None:
        # giving up early is only allowed when even the shortest wait would hit the budget
        assert elapsed + floor + JITTER >= BUDGET
    else:
        assert now < at <= T0 + timedelta(seconds=BUDGET)
        assert (at - now).total_seconds() >= floor
