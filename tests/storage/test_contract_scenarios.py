"""The storage contract's scenario operations (`ScenarioOps`), on every backend."""

from __future__ import annotations

import pytest

from connector.storage.base import EventRecord, IngestBatch, Routed
from connector.storage.scenario_records import (
    ClickRecord,
    RecipientRecord,
    SendKey,
    TimerRecord,
)
from tests.storage.conftest import Store
from tests.storage.test_contract import run

CAMPAIGN = SendKey("campaign", "c1")


def person(who: str, status: str = "sent", at: float = 1.0, message: str = "m1") -> RecipientRecord:
    return RecipientRecord(who, message, "c1", status, at, False, b'{"to": "%s"}' % who.encode())


def click(event_id: str, who: str, at: float, **kwargs: object) -> ClickRecord:
    fields: dict[str, object] = {
        "message_id": "m1",
        "campaign_id": "c1",
        "canonical": "https://x/",
        "system": False,
        "test": False,
        "suspected": False,
        "settled": True,
        "settle_at": None,
    }
    fields.update(kwargs)
    return ClickRecord(event_id=event_id, recipient=who, occurred_at=at, **fields)  # type: ignore[arg-type]


def timer(timer_id: str, due: float, kind: str = "not_clicked", **kwargs: object) -> TimerRecord:
    fields: dict[str, object] = {
        "rule_id": "r1",
        "send": CAMPAIGN,
        "recipient": None,
        "origin": "config",
        "created_at": 0.0,
    }
    fields.update(kwargs)
    return TimerRecord(id=timer_id, kind=kind, due_at=due, **fields)  # type: ignore[arg-type]


def test_recipients_keep_the_strongest_status(store: Store) -> None:
    """delivered > registered > sent: a weaker status never overwrites a stronger one."""
    run(store, lambda tx: tx.record_recipients([person("a", "delivered", 5.0), person("b")]))
    run(
        store,
        lambda tx: tx.record_recipients([person("a", "sent", 6.0), person("b", "registered", 7.0)]),
    )
    run(
        store,
        lambda tx: tx.record_recipients([person("b", "sent", 8.0), person("b", "delivered", 9.0)]),
    )
    a = run(store, lambda tx: tx.recipient_record("m1", "a"))
    b = run(store, lambda tx: tx.recipient_record("m1", "b"))
    assert a == person("a", "delivered", 5.0)
    assert b == person("b", "delivered", 9.0)
    assert run(store, lambda tx: tx.recipient_record("m1", "nobody")) is None


def test_send_recipients_pages_in_byte_order_one_row_per_person(store: Store) -> None:
    """Pages follow the key's byte order (as Python sorts); the latest message per person."""
    people = ["b", "B", "a", "é", "a-1", "Z", "aa", "_x"]
    run(store, lambda tx: tx.record_recipients([person(p, "delivered") for p in people]))
    run(store, lambda tx: tx.record_recipients([person("a", "delivered", 9.0, message="m2")]))
    seen: list[str] = []
    after = ""
    while page := run(
        store, lambda tx, a=after: tx.send_recipients(CAMPAIGN, a, 3, ("delivered",))
    ):
        seen += [r.recipient for r in page]
        after = page[-1].recipient
    assert seen == sorted(people)
    first = run(store, lambda tx: tx.send_recipients(CAMPAIGN, "", 100, ("delivered",)))
    assert next(r for r in first if r.recipient == "a").message_id == "m2"
    by_message = run(
        store, lambda tx: tx.send_recipients(SendKey("message", "m2"), "", 9, ("delivered",))
    )
    assert [r.recipient for r in by_message] == ["a"]
    assert run(store, lambda tx: tx.send_recipients(CAMPAIGN, "", 9, ("sent",))) == []
    assert run(store, lambda tx: tx.send_recipients(CAMPAIGN, "", 9, ())) == []
    everyone = run(store, lambda tx: tx.send_recipients(SendKey("all"), "", 100, ("delivered",)))
    assert len(everyone) == len(people)


def test_the_click_index(store: Store) -> None:
    """Clicks are stored once, read by send and recipient range, settled, and summarised."""
    clicks = [
        click("k1", "a", 10.0),
        click("k2", "b", 11.0, suspected=True, settled=False, settle_at=40.0),
        click("k3", "c", 50.0),
        click("k4", "a", 12.0, campaign_id="c2"),
    ]
    run(store, lambda tx: tx.record_clicks(clicks))
    run(store, lambda tx: tx.record_clicks([click("k1", "z", 99.0)]))  # a repeat is ignored
    found = run(store, lambda tx: tx.send_clicks(CAMPAIGN, "a", "b", 20.0))
    assert [(c.event_id, c.recipient, c.suspected, c.settled) for c in found] == [
        ("k1", "a", False, True),
        ("k2", "b", True, False),
    ]
    assert found[0].canonical == "https://x/" and found[1].settle_at == 40.0
    assert run(store, lambda tx: tx.clicked_recipients(CAMPAIGN, "", 10, 100.0)) == ["a", "b", "c"]
    assert run(store, lambda tx: tx.clicked_recipients(CAMPAIGN, "a", 1, 100.0)) == ["b"]
    assert run(store, lambda tx: tx.unsettled_until(CAMPAIGN, None, 100.0)) == 40.0
    assert run(store, lambda tx: tx.unsettled_until(CAMPAIGN, "a", 100.0)) is None
    run(store, lambda tx: tx.settle_clicks([("k2", False)]))
    assert run(store, lambda tx: tx.unsettled_until(CAMPAIGN, None, 100.0)) is None
    settled = run(store, lambda tx: tx.send_clicks(CAMPAIGN, "b", "b", 20.0))
    assert [(c.suspected, c.settled) for c in settled] == [(False, True)]
    assert len(run(store, lambda tx: tx.send_clicks(SendKey("all"), "a", "z", 100.0))) == 4
    assert run(store, lambda tx: tx.send_known(CAMPAIGN))
    assert run(store, lambda tx: tx.send_known(SendKey("campaign", "c2")))
    assert not run(store, lambda tx: tx.send_known(SendKey("message", "nope")))


def test_click_payload_reads_the_stored_event(store: Store) -> None:
    """click_payload returns a stored event's payload and verdict, None for an unknown id."""
    record = EventRecord("k1", "email.clicked", "cio", "cio", 1.0, 2.0, b'{"id":"k1"}', b"{}")
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 2.0, [record])))
    assert run(store, lambda tx: tx.click_payload("k1")) == (b'{"id":"k1"}', None)
    run(store, lambda tx: tx.complete_events([Routed("k1", b'{"s":1}', {})]))
    assert run(store, lambda tx: tx.click_payload("k1")) == (b'{"id":"k1"}', b'{"s":1}')
    assert run(store, lambda tx: tx.click_payload("nope")) is None


def test_timers_claim_defer_advance_finish(store: Store) -> None:
    """Due timers come oldest first; deferring, advancing and finishing change what is due."""
    added = run(
        store, lambda tx: tx.add_timers([timer("t2", 20.0), timer("t1", 10.0), timer("t3", 30.0)])
    )
    assert added == 3 and run(store, lambda tx: tx.add_timers([timer("t1", 99.0)])) == 0
    assert run(store, lambda tx: tx.next_timer_due()) == 10.0
    assert [t.id for t in run(store, lambda tx: tx.claim_timers(25.0, 10))] == ["t1", "t2"]
    run(store, lambda tx: tx.defer_timer("t1", 40.0))
    run(store, lambda tx: tx.advance_timer("t2", "bob", 3))
    run(store, lambda tx: tx.advance_timer("t2", "carl", 2))
    assert [t.id for t in run(store, lambda tx: tx.claim_timers(35.0, 10))] == ["t2", "t3"]
    run(store, lambda tx: tx.finish_timer("t2", "done", 36.0, 1))
    t2 = run(store, lambda tx: tx.timer("t2"))
    assert t2 is not None
    assert (t2.status, t2.cursor, t2.emitted, t2.fired_at) == ("done", "carl", 6, 36.0)
    assert (t2.send, t2.kind, t2.rule_id, t2.data) == (CAMPAIGN, "not_clicked", "r1", b"{}")
    assert [t.id for t in run(store, lambda tx: tx.claim_timers(100.0, 1))] == ["t3"]
    assert run(store, lambda tx: tx.timer("nope")) is None


def test_timers_are_cancelled_and_listed(store: Store) -> None:
    """Cancelling touches pending timers only; a stale config timer of a rule is cancelled."""
    other = SendKey("message", "m9")
    run(
        store,
        lambda tx: tx.add_timers(
            [
                timer("t1", 10.0),
                timer("t2", 20.0),
                timer("t3", 30.0),
                timer("api", 5.0, origin="api"),
                timer("m", 1.0, send=other, rule_id="r2"),
            ]
        ),
    )
    run(store, lambda tx: tx.finish_timer("t3", "done", 1.0))
    assert run(store, lambda tx: tx.cancel_timers(["t3", "m", "m", "nope"], 2.0)) == 1
    assert run(store, lambda tx: tx.cancel_stale_config_timers("r1", ["t1"], 3.0)) == 1
    assert run(store, lambda tx: tx.cancel_stale_config_timers("r2", [], 3.0)) == 0
    statuses = {t.id: t.status for t in run(store, lambda tx: tx.timers())}
    assert statuses == {
        "t1": "pending",
        "t2": "cancelled",
        "t3": "done",
        "api": "pending",
        "m": "cancelled",
    }
    assert [t.id for t in run(store, lambda tx: tx.timers(send=CAMPAIGN, status="pending"))] == [
        "api",
        "t1",
    ]
    assert [t.id for t in run(store, lambda tx: tx.timers(limit=2))] == ["m", "api"]
    assert run(store, lambda tx: tx.send_known(other))


def test_a_wait_is_resolved_by_one_click_only(store: Store) -> None:
    """resolve_wait closes the running wait once; a click after its deadline closes nothing."""
    wait = timer("w1", 100.0, "wait", recipient="a", send=SendKey("message", "m1"), origin="api")
    run(store, lambda tx: tx.add_timers([wait]))
    assert run(store, lambda tx: tx.resolve_wait("r1", "a", "m1", 150.0, 150.0)) is None
    assert run(store, lambda tx: tx.resolve_wait("r1", "b", "m1", 50.0, 50.0)) is None
    assert run(store, lambda tx: tx.resolve_wait("r1", "a", "m1", 50.0, 51.0)) == "w1"
    assert run(store, lambda tx: tx.resolve_wait("r1", "a", "m1", 60.0, 61.0)) is None
    closed = run(store, lambda tx: tx.timer("w1"))
    assert closed is not None and (closed.status, closed.fired_at) == ("clicked", 51.0)
    assert run(store, lambda tx: tx.claim_timers(200.0, 10)) == []


@pytest.mark.parametrize("window", [None, 30.0])
def test_entries_hold_a_key_for_their_window(store: Store, window: float | None) -> None:
    """An entry holds its key against other events (within the window), never its own."""
    assert run(store, lambda tx: tx.entry_holder("k", "e1", 0.0, window)) is None
    run(store, lambda tx: tx.record_entry("k", "r1", "e1", 10.0))
    assert run(store, lambda tx: tx.entry_holder("k", "e1", 11.0, window)) is None
    assert run(store, lambda tx: tx.entry_holder("k", "e2", 20.0, window)) == ("r1", "e1", 10.0)
    later = run(store, lambda tx: tx.entry_holder("k", "e2", 40.0, window))
    assert later == (None if window else ("r1", "e1", 10.0))
    run(store, lambda tx: tx.record_entry("k", "r2", "e2", 50.0))
    assert run(store, lambda tx: tx.entry_holder("k", "e3", 51.0, window)) == ("r2", "e2", 50.0)


def test_prune_forgets_old_scenario_rows(store: Store) -> None:
    """Old recipients, clicks and finished timers go; pending timers stay."""
    run(store, lambda tx: tx.record_recipients([person("old", at=1.0), person("new", at=900.0)]))
    run(store, lambda tx: tx.record_clicks([click("k1", "old", 1.0), click("k2", "new", 900.0)]))
    run(store, lambda tx: tx.add_timers([timer("done", 1.0), timer("pending", 2.0)]))
    run(store, lambda tx: tx.finish_timer("done", "done", 1.0))
    run(store, lambda tx: tx.prune(1000.0, 500.0))
    assert [
        r.recipient for r in run(store, lambda tx: tx.send_recipients(CAMPAIGN, "", 9, ("sent",)))
    ] == ["new"]
    assert run(store, lambda tx: tx.clicked_recipients(CAMPAIGN, "", 9, 2000.0)) == ["new"]
    assert [t.id for t in run(store, lambda tx: tx.timers())] == ["pending"]
