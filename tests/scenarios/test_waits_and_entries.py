"""Waits (click or timeout, exactly one), first response in a group, once_per and windows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.scenarios.harness import Harness
from tests.scenarios.support import T0, event

HOUR = 3600.0
CONFIRM = "https://app.example.org/confirm"
SHOP = "https://shop.example.org"
WAIT = {
    "id": "confirm",
    "trigger": "wait",
    "timeout": "24h",
    "links": [CONFIRM],
    "on_click": ["crm"],
    "on_timeout": ["reminder"],
}


@pytest.mark.parametrize(
    ("click_after", "expected"),
    [
        (HOUR, [("crm", "email.clicked")]),
        (30 * HOUR, [("reminder", "email.click_timeout")]),
        (None, [("reminder", "email.click_timeout")]),
    ],
)
def test_a_wait_ends_in_exactly_one_of_click_or_timeout(
    tmp_path: Path, click_after: float | None, expected: list[tuple[str, str]]
) -> None:
    """A click within the timeout goes to on_click; otherwise on_timeout gets the timeout."""
    h = Harness(tmp_path / "w.db", [WAIT])
    h.ingest(event("email.delivered", "ann", T0))
    h.run(T0 + 1)
    if click_after is not None:
        h.ingest(event("email.clicked", "ann", T0 + click_after, url=CONFIRM + "?utm_medium=email"))
    h.run(T0 + 40 * HOUR)
    h.ingest(event("email.clicked", "ann", T0 + 41 * HOUR, url=CONFIRM, serial="later"))
    h.run(T0 + 42 * HOUR)
    assert [(d["action"], d["type"]) for d in h.deliveries()] == expected
    h.close()


@pytest.mark.parametrize(
    ("clicked", "url", "expected"),
    [
        (HOUR, CONFIRM, [("crm", "email.clicked")]),  # clicked in time, stored first
        (HOUR, SHOP + "/other", [("reminder", "email.click_timeout")]),  # not a selected link
        (30 * HOUR, CONFIRM, [("reminder", "email.click_timeout")]),  # after the timeout
    ],
)
def test_a_click_stored_before_its_delivery_still_answers_the_wait(
    tmp_path: Path, clicked: float, url: str, expected: list[tuple[str, str]]
) -> None:
    """ESPs do not keep webhooks in order: a click stored before its delivery is kept, and
    the wait that delivery starts ends at once in that click (once), not in a timeout."""
    h = Harness(tmp_path / "w.db", [WAIT])
    h.ingest(
        event("email.clicked", "ann", T0 + clicked, url=url),
        event("email.clicked", "ann", T0 + clicked + 5, url=url, serial="again"),
    )
    h.run(T0 + clicked + 10)
    h.ingest(event("email.delivered", "ann", T0))
    h.run(T0 + clicked + 11)
    h.ingest(event("email.delivered", "ann", T0, serial="retried"))  # the ESP sends it again
    h.run(T0 + 40 * HOUR)
    sent = h.deliveries()
    assert [(d["action"], d["type"]) for d in sent] == expected
    if expected[0][1] == "email.clicked":  # the first early click, for the wait that got it
        when = datetime.fromisoformat(sent[0]["occurred_at"].replace("Z", "+00:00"))
        assert when.timestamp() == T0 + clicked  # the first of the two
        assert sent[0]["scenario"]["trigger"] == "wait"
    h.close()


@pytest.mark.parametrize(("include", "expected"), [(False, []), (True, ["reminder", "nudger"])])
def test_a_test_send_starts_no_wait_and_no_check(
    tmp_path: Path, include: bool, expected: list[str]
) -> None:
    """An ESP's test send is not a real send: its delivery starts no wait and no per-delivery
    not_clicked check, unless the rules set include_test_sends."""
    nudge = {"id": "nudge", "trigger": "not_clicked", "after": "2h", "actions": ["nudger"]}
    rules = [{**rule, "include_test_sends": include} for rule in (WAIT, nudge)]
    h = Harness(tmp_path / "t.db", rules)
    h.ingest(event("email.delivered", "ann", T0, test=True))
    h.run(T0 + 1)
    h.run(T0 + 30 * HOUR)
    assert [d["action"] for d in h.deliveries()] == expected
    h.close()


@pytest.mark.parametrize(
    ("clicks", "expected"),
    [
        (["ann"], [("crm", "email.clicked", "ann"), ("reminder", "email.click_timeout", "bob")]),
        (
            [],
            [
                ("reminder", "email.click_timeout", "ann"),
                ("reminder", "email.click_timeout", "bob"),
            ],
        ),
    ],
)
def test_recipients_registered_by_campaign_wait_for_a_click_on_any_of_its_messages(
    tmp_path: Path, clicks: list[str], expected: list[tuple[str, str, str]]
) -> None:
    """POST /api/v1/recipients with a campaign and no message id: the waits it starts are
    the campaign's, answered by a click on any message of it (they were keyed to message
    "", so a person who clicked still timed out)."""
    h = Harness(tmp_path / "c.db", [WAIT])
    people = [
        {"recipient": {"email": f"{who}@example.org"}, "message": {"campaign_id": "spring"}}
        for who in ("ann", "bob")
    ]
    h.store.transaction_sync(lambda tx: h.engine.register(tx, people, T0))
    for who in clicks:
        h.ingest(event("email.clicked", who, T0 + HOUR, url=CONFIRM))
    h.run(T0 + 30 * HOUR)
    sent = [(d["action"], d["type"], d["recipient"]["email"][:3]) for d in h.deliveries()]
    assert sent == expected
    timeouts = [d for d in h.deliveries() if d["type"] == "email.click_timeout"]
    assert {d["scenario"]["send"]["campaign_id"] for d in timeouts} == {"spring"}
    h.close()


def test_a_click_on_another_link_does_not_answer_a_wait(tmp_path: Path) -> None:
    """Only the selected links answer; the wait then times out."""
    h = Harness(tmp_path / "w.db", [WAIT])
    h.ingest(event("email.delivered", "ann", T0))
    h.run(T0 + 1)
    h.ingest(event("email.clicked", "ann", T0 + HOUR, url="https://app.example.org/other"))
    h.run(T0 + 25 * HOUR)
    assert [d["type"] for d in h.deliveries()] == ["email.click_timeout"]
    h.close()


def test_first_response_wins_within_a_group(tmp_path: Path) -> None:
    """Two offers in one email: the first one a person clicks fires; the other is recorded
    as lost to it, for that person and send only."""
    offers = [
        {
            "id": "offer-a",
            "group": "offers",
            "links": ["https://shop.example.org/a"],
            "actions": ["crm"],
        },
        {
            "id": "offer-b",
            "group": "offers",
            "links": ["https://shop.example.org/b"],
            "actions": ["crm"],
        },
    ]
    h = Harness(tmp_path / "g.db", offers)
    b_first = event("email.clicked", "ann", T0 + 10, url="https://shop.example.org/b")
    a_later = event("email.clicked", "ann", T0 + 20, url="https://shop.example.org/a")
    bob_a = event("email.clicked", "bob", T0 + 30, url="https://shop.example.org/a")
    h.ingest(b_first)
    h.run(T0 + 11)
    h.ingest(a_later, bob_a)
    h.run(T0 + 31)
    fired = [(d["recipient"]["email"], d["link"]["url"]) for d in h.deliveries("crm")]
    assert fired == [
        ("ann@example.org", "https://shop.example.org/b"),
        ("bob@example.org", "https://shop.example.org/a"),
    ]
    lost = h.decision(a_later.id)["immediate"]["unmatched"]
    assert any(
        u["rule"] == "offer-a" and u["reason"].startswith("lost to first response: rule 'offer-b'")
        for u in lost
    )
    h.close()


@pytest.mark.parametrize(
    ("once_per", "expected"),
    [
        ("event", 4),  # every click
        ("recipient", 1),  # ann once, ever
        ("message", 2),  # once per message
        ("campaign", 2),  # once per campaign
    ],
)
def test_once_per(tmp_path: Path, once_per: str, expected: int) -> None:
    """Four clicks by one person: two on message 1 of campaign x, two on message 2 of y."""
    h = Harness(tmp_path / "o.db", [{"id": "r", "once_per": once_per, "actions": ["crm"]}])
    clicks = [
        event("email.clicked", "ann", T0 + 1, campaign="x", serial="1"),
        event("email.clicked", "ann", T0 + 2, campaign="x", serial="2"),
    ]
    h.ingest(*clicks)
    second = [
        _other_message(event("email.clicked", "ann", T0 + 3, campaign="y", serial="3")),
        _other_message(event("email.clicked", "ann", T0 + 4, campaign="y", serial="4")),
    ]
    h.ingest(*second)
    h.run(T0 + 10)
    assert len(h.deliveries("crm")) == expected
    h.close()


def test_reentry_after_a_window(tmp_path: Path) -> None:
    """once_per recipient with a window: again only after the window has passed."""
    rule = {"id": "r", "once_per": "recipient", "reenter_after": "1h", "actions": ["crm"]}
    h = Harness(tmp_path / "o.db", [rule])
    h.ingest(event("email.clicked", "ann", T0, serial="1"))
    h.run(T0 + 1)
    h.ingest(event("email.clicked", "ann", T0 + 60, serial="2"))
    h.run(T0 + 61)
    h.ingest(event("email.clicked", "ann", T0 + 2 * HOUR, serial="3"))
    h.run(T0 + 2 * HOUR + 1)
    assert len(h.deliveries("crm")) == 2
    h.close()


def _other_message(record):  # type: ignore[no-untyped-def]
    """The same click shape on message `msg-ann-2` (a second email to the same person)."""
    from dataclasses import replace

    payload = record.payload.replace(b'"id":"msg-ann"', b'"id":"msg-ann-2"')
    return replace(record, payload=payload)
