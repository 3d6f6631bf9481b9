"""What the per-provider `email.sent` tests compare: the fields a scenario learns a send from.

Each provider's test file lists, per fixture, the sends it expects; `sent_events` parses the
fixture and reduces every `email.sent` event to those fields, so one helper serves them all.
"""

from __future__ import annotations

from typing import NamedTuple

from providers.base import Provider
from schemas import EmailSent
from tests.support.fixtures import Case


class Sent(NamedTuple):
    """A send's recipient, message id, campaign id and time (ISO-8601, UTC)."""

    email: str | None
    message: str | None
    campaign: str | None
    at: str


def sent_events(provider: Provider, case: Case) -> list[Sent]:
    """The `email.sent` events `case` parses to, in order, as `Sent` tuples."""
    result = provider.parse(case.request(), case.source())
    found = [parsed.event for parsed in result.events if parsed.event.type == "email.sent"]
    assert all(isinstance(event, EmailSent) for event in found)
    return [
        Sent(e.recipient.email, e.message.id, e.message.campaign_id, e.occurred_at.isoformat())
        for e in found
    ]
