"""Customer.io: an email's `sent` and `delivered` metrics are distinct events, per channel."""

from __future__ import annotations

import json

import pytest

from providers import customerio
from tests.providers.sent import Sent, sent_events
from tests.support.fixtures import cases

CASES = {case.name: case for case in cases("customerio")}
DELIVERY_ID = "RPILAgUBcRhIBqSbvEZotk16z5A="


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sent", [Sent("dana@example.org", DELIVERY_ID, "12", "2025-01-01T11:59:45+00:00")]),
        ("delivered", []),
        ("click", []),
    ],
)
def test_sent_metric_normalises_to_email_sent(name: str, expected: list[Sent]) -> None:
    """The email `sent` metric (handed to the delivery provider) is email.sent; others are not."""
    assert sent_events(customerio, CASES[name]) == expected


@pytest.mark.parametrize("object_type", ["sms", "push", "in_app"])
def test_sent_metric_of_another_channel_is_ignored(object_type: str) -> None:
    """A `sent` metric for another channel is acknowledged as ignored, never an email.sent."""
    case = CASES["sent"]
    body = json.loads(case.body) | {"object_type": object_type}
    result = customerio.parse(case.request(body=json.dumps(body).encode()), case.source())
    assert (result.events, result.ignored) == ([], [f"{object_type}.sent"])
