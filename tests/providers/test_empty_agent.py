"""A click that came without a User-Agent reaches the detector as `""`, not as unknown.

For the ESPs whose click payload carries the agent on every click, an empty field means
the clicker sent none (evidence: `ua.empty`); only an absent field is unknown.
"""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest

from connector.bots.useragents import classify
from providers.registry import PROVIDERS
from schemas.events import EmailClicked
from tests.support.fixtures import Case, cases

AGENT_CARRYING = (
    "amazon_ses",
    "mailgun",
    "mailjet",
    "mandrill",
    "postal",
    "postmark",
    "resend",
    "sendgrid",
    "sparkpost",
)


def _click(provider: str) -> Case:
    return next(case for case in cases(provider) if case.name == "click")


def _agent(case: Case, body: bytes | None = None) -> str | None:
    """The click's `client.user_agent` as the provider normalises it."""
    event = PROVIDERS[case.provider].parse(case.request(body=body), case.source()).events[0].event
    assert isinstance(event, EmailClicked) and event.client is not None
    return event.client.user_agent


def _encodings(value: str) -> tuple[str, ...]:
    """How the agent can stand in a body: JSON, JSON inside a JSON string (SNS), form."""
    escaped = json.dumps(value)[1:-1]
    return (json.dumps(escaped)[1:-1], escaped, quote_plus(escaped), quote_plus(value))


def _without_agent(case: Case, agent: str) -> bytes:
    """The click's body with its agent's text emptied, however the ESP encoded it."""
    text = case.body.decode()
    for encoded in _encodings(agent):
        if encoded and encoded in text:
            return text.replace(encoded, "").encode()
    raise AssertionError(f"{case.id}: agent {agent!r} not found in the body")


@pytest.mark.parametrize("provider", AGENT_CARRYING)
def test_an_empty_agent_field_is_kept_as_empty(provider: str) -> None:
    case = _click(provider)
    sent = _agent(case)
    assert sent

    emptied = _agent(case, _without_agent(case, sent))

    assert emptied == ""
    assert [code for code, _ in classify(emptied, 130)] == ["ua.empty"]
