"""A wait is closed by a click on its message, or, for a wait of a whole campaign (its
recipients registered by campaign), by a click on any message of that campaign; on every
backend."""

from __future__ import annotations

import pytest

from connector.storage.scenario_records import SendKey, TimerRecord
from tests.storage.conftest import Store
from tests.storage.test_contract import run


def _wait(timer_id: str, send: SendKey) -> TimerRecord:
    return TimerRecord(timer_id, "r1", "wait", send, "ann", 100.0, "delivery", 0.0)


@pytest.mark.parametrize(
    ("send", "clicked", "closed"),
    [
        (SendKey("message", "m1"), ("m1", "c1"), True),
        (SendKey("message", "m1"), ("m2", "c1"), False),  # another message of the campaign
        (SendKey("campaign", "c1"), ("m2", "c1"), True),
        (SendKey("campaign", "c1"), ("m1", "c2"), False),
        (SendKey("campaign", "m1"), ("m1", ""), False),  # a message id is not a campaign id
    ],
)
def test_a_click_closes_its_message_s_or_its_campaign_s_wait(
    store: Store, send: SendKey, clicked: tuple[str, str], closed: bool
) -> None:
    run(store, lambda tx: tx.add_timers([_wait("w1", send)]))
    message, campaign = clicked
    won = run(store, lambda tx: tx.resolve_wait("r1", "ann", message, 50.0, 51.0, campaign))
    assert (won == "w1") is closed
