"""What `observe` worked out for a click, kept in this process until the click settles.

The settled pass gets the click back from storage (a new object, same content). When its
inputs are unchanged (same `fingerprint`), the facts `observe` read are reused. When, in
addition, the evidence held for its message and address is unchanged since `observe` (same
`BotState.snapshot`) and none of it arrived after the click, the settled assessment would
see exactly the rows the immediate one saw, through the same windows: its reasons are the
immediate ones and only the phase differs. In every other case (the click was observed by
another process or dropped from this bounded cache, its evidence changed) the settled
verdict is computed from scratch, so verdicts never depend on what is cached. Up to
MAX_PENDING entries wait, so they hold small things: the fingerprint, not the decoded click
(~3 KB against ~0.2 KB), the hits, not the `Bot` (~0.9 KB against ~0.1 KB).
"""

from __future__ import annotations

from typing import NamedTuple

from connector.bots.facts import Facts
from connector.bots.records import Snapshot
from schemas.events import PURPOSE_KEY
from schemas.views import ClickView

Hit = tuple[str, str]
Answer = tuple[str, float | None]  # a question to the campaign-wide index and its answer
MAX_PENDING = 10_000  # clicks awaiting settlement (~1-2 KB each): 2 minutes at ~80/s


class Observed(NamedTuple):
    fingerprint: tuple[object, ...]
    facts: Facts
    snapshot: Snapshot | None  # taken after the immediate assessment
    hits: tuple[Hit, ...]  # the immediate reasons, before weighing
    link_count: int | None  # the one field of the click an assessment reads beyond its facts
    # what the assessment asked the campaign-wide index (crowd.py) and it answered: other
    # recipients on the click's link, the campaign's first delivery
    asked: tuple[Answer, ...]


def fingerprint(click: ClickView, hint_key: str) -> tuple[object, ...]:
    """Every field the facts and the assessment read, so equal fingerprints mean equal facts.

    Times compare as instants; the occurrence's local date is added because the expected
    browser version is taken from it. The ESP hint keeps its type: True and 1 give different
    details.
    """
    message, recipient, link, client = click.message, click.recipient, click.link, click.client
    occurred = click.occurred_at
    hint = click.metadata.get(hint_key) if click.metadata else None
    return (
        occurred,
        occurred.toordinal(),
        click.received_at,
        click.provider,
        message.id,
        message.campaign_id,
        message.link_count,
        recipient.email,
        recipient.id,
        link.position,
        link.id,
        link.url,
        link.hidden,
        client.ip,
        client.user_agent,
        client.http_method,
        type(hint),
        hint,
        click.metadata.get(PURPOSE_KEY) if click.metadata else None,
    )


class PendingClicks:
    """Observed clicks by event id, oldest dropped first beyond `limit`."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self.limit = limit
        self._items: dict[str, Observed] = {}  # insertion order: oldest first

    def __len__(self) -> int:
        return len(self._items)

    def remember(self, event_id: str, observed: Observed) -> None:
        items = self._items
        items.pop(event_id, None)  # a click observed again moves to the end
        items[event_id] = observed
        if len(items) > self.limit:
            del items[next(iter(items))]

    def take(self, event_id: str) -> Observed | None:
        return self._items.pop(event_id, None)
