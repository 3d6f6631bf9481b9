"""Anonymous clicks (a trigger link without a contact token: no recipient, no message) are
one unknown person per address, not a new recipient each: five of them from one carrier's
address must not make that address look like a scanner clicking for many people."""

from __future__ import annotations

from schemas.events import EmailClicked, Message, Recipient
from tests.bots.helpers import Replay, clicked, codes, detector

LATE = 3600.0


def _anonymous(after: float) -> EmailClicked:
    return clicked(after).model_copy(update={"recipient": Recipient(), "message": Message()})


def test_anonymous_clicks_from_one_address_are_not_a_fanout() -> None:
    clicks = [_anonymous(LATE + 10 * n) for n in range(5)]
    verdict = Replay(detector()).feed(*clicks).settled(clicks[-1])
    assert "ip.fanout" not in codes(verdict)


def test_known_recipients_beside_anonymous_clicks_still_count() -> None:
    """The fan-out of five named recipients is still seen with anonymous clicks among them."""
    named = [
        clicked(LATE + 10 * n, message=f"m{n}", recipient=f"p{n}@firm.example") for n in range(5)
    ]
    clicks = [_anonymous(LATE - 5), *named]
    verdict = Replay(detector()).feed(*clicks).settled(named[-1])
    assert "ip.fanout" in codes(verdict)
