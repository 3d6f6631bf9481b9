"""The storage contract, on every backend: inbox, group commit, routing, outbox, tasks, events.

Each test drives only the public `Store` / `Tx` API, so SQLite and PostgreSQL must answer
alike (the scenario and bot parts are in test_contract_scenarios.py and
test_contract_bots.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from connector.errors import StorageUnavailable
from connector.storage.base import (
    AttemptRecord,
    EventRecord,
    IngestBatch,
    NewDelivery,
    RejectedItem,
    Routed,
    TaskRecord,
    Tx,
)
from tests.storage.conftest import Store

T = TypeVar("T")


def run(store: Store, fn: Callable[[Tx], T]) -> T:
    return store.transaction_sync(fn)


def event(event_id: str, received: float = 2.0, type: str = "email.clicked") -> EventRecord:
    payload = b'{"id": "%s", "n": 1}' % event_id.encode()
    return EventRecord(event_id, type, "cio", "customerio", 1.0, received, payload, b'{"raw":1}')


def batch(*ids: str, **kwargs: Any) -> IngestBatch:
    return IngestBatch(source="cio", received_at=2.0, events=[event(i) for i in ids], **kwargs)


def delivery(event_id: str, action: str = "a1", at: float = 10.0) -> NewDelivery:
    return NewDelivery(f"d-{event_id}-{action}", event_id, action, ["r1", "r2"], b"body", at)


def attempt(
    delivery_id: str, n: int, outcome: str, at: float, next_at: float | None
) -> AttemptRecord:
    return AttemptRecord(delivery_id, n, at, outcome, 500, "boom", 12.5, next_at)


# inbox -------------------------------------------------------------------------------------
def test_ingest_stores_new_events_and_reports_duplicates(store: Store) -> None:
    """New ids are stored once; a repeat (in the same batch or later) is a duplicate."""
    first = run(store, lambda tx: tx.ingest(batch("e1", "e2", "e1")))
    again = run(store, lambda tx: tx.ingest(batch("e2", "e3")))
    assert (first.new, first.duplicates, first.replayed_nonce) == (["e1", "e2"], ["e1"], False)
    assert (again.new, again.duplicates) == (["e3"], ["e2"])
    assert [e["event"]["id"] for e in run(store, lambda tx: tx.list_events())] == ["e3", "e2", "e1"]


def test_ingest_stores_rejections_and_tasks_with_the_events(store: Store) -> None:
    """Rejected items and control tasks of a batch are stored with it (tasks are claimable)."""
    extra = {
        "rejected": [RejectedItem(0, "bad", b"{}")],
        "tasks": [TaskRecord("confirm", b'{"url": "x"}')],
    }
    run(store, lambda tx: tx.ingest(batch("e1", **extra)))
    tasks = run(store, lambda tx: tx.claim_tasks(now=5.0, limit=10, lease=30.0))
    assert [(t.kind, t.data, t.attempts) for t in tasks] == [("confirm", b'{"url": "x"}', 0)]


def test_a_failing_caller_does_not_take_others_writes_with_it(store: Store) -> None:
    """In one group commit, a caller that raises loses its own writes and only those."""

    def bad(tx: Tx) -> None:
        tx.ingest(batch("half"))
        raise RuntimeError("boom")

    async def together() -> list[Any]:
        calls = [store.transaction(lambda tx, i=i: tx.ingest(batch(f"ok{i}"))) for i in range(20)]
        calls.insert(7, store.transaction(bad))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(together())
    assert isinstance(results[7], RuntimeError)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 7)
    stored = {e["event"]["id"] for e in run(store, lambda tx: tx.list_events(limit=100))}
    assert stored == {f"ok{i}" for i in range(20)}


def test_a_write_the_database_rejects_fails_only_its_caller(store: Store) -> None:
    """A caller whose write breaks a constraint gets StorageUnavailable; the others commit."""
    broken = AttemptRecord("d", 1, 1.0, None, None, None, 1.0, None)  # type: ignore[arg-type]

    async def together() -> list[Any]:
        calls = [store.transaction(lambda tx, i=i: tx.ingest(batch(f"ok{i}"))) for i in range(5)]
        calls.insert(2, store.transaction(lambda tx: tx.record_attempts([broken])))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(together())
    assert isinstance(results[2], StorageUnavailable)
    assert [r.new for i, r in enumerate(results) if i != 2] == [[f"ok{i}"] for i in range(5)]
    assert run(store, lambda tx: tx.counts()) == {}


def test_background_transactions_commit_too(store: Store) -> None:
    """durable=False work is committed and visible like any other."""

    async def background() -> Any:
        return await store.transaction(lambda tx: tx.ingest(batch("bg")), durable=False)

    assert asyncio.run(background()).new == ["bg"]
    assert run(store, lambda tx: tx.event("bg")) is not None


def test_a_nonce_reused_with_another_body_stores_nothing(store: Store) -> None:
    """The same nonce and body is a retry; the same nonce with another body is a replay."""
    first = run(store, lambda tx: tx.ingest(batch("e1", nonce="n1", body_digest="aaa")))
    retry = run(store, lambda tx: tx.ingest(batch("e1", nonce="n1", body_digest="aaa")))
    tasks = [TaskRecord("confirm", b"{}")]
    replay = run(store, lambda tx: tx.ingest(batch("e2", nonce="n1", body_digest="b", tasks=tasks)))
    assert first.new == ["e1"] and retry.duplicates == ["e1"]
    assert replay.replayed_nonce and replay.new == [] and replay.duplicates == []
    assert run(store, lambda tx: tx.event("e2")) is None
    assert run(store, lambda tx: tx.claim_tasks(100.0, 10, 5.0)) == []


# routing and settlement --------------------------------------------------------------------
def test_routing_claims_pending_events_in_order_once(store: Store) -> None:
    """pending_events returns unprocessed events oldest first; completed ones leave the inbox."""
    run(store, lambda tx: tx.ingest(batch("e1", "e2", "e3")))
    first = run(store, lambda tx: tx.pending_events(2))
    assert [(e.id, e.type) for e in first] == [("e1", "email.clicked"), ("e2", "email.clicked")]
    assert first[0].payload == event("e1").payload
    routed = [Routed("e1", b'{"suspected": false}', {"matched": ["r1"]}), Routed("e2", None, {})]
    run(store, lambda tx: tx.complete_events(routed))
    assert [e.id for e in run(store, lambda tx: tx.pending_events(10))] == ["e3"]
    stored = run(store, lambda tx: tx.event("e1"))
    assert stored is not None
    assert stored["decision"] == {"immediate": {"matched": ["r1"]}}
    assert stored["event"]["bot"] == {"suspected": False}
    assert (stored["processed"], stored["settled"]) == (True, True)


def test_settlement_is_due_at_its_time_and_keeps_the_immediate_decision(store: Store) -> None:
    """An event with settle_at is settled once, after it; the decision gains `settled`."""
    run(store, lambda tx: tx.ingest(batch("e1", "e2")))
    immediate = [Routed("e1", b"1", {"a": 1}, 50.0), Routed("e2", None, {"b": 2}, 60.0)]
    run(store, lambda tx: tx.complete_events(immediate))
    assert run(store, lambda tx: tx.due_settlements(49.0, 10)) == []
    assert [e.id for e in run(store, lambda tx: tx.due_settlements(70.0, 10))] == ["e1", "e2"]
    assert run(store, lambda tx: tx.event("e1"))["settled"] is False  # type: ignore[index]
    settled = [Routed("e1", b"2", {"s": True}), Routed("e2", None, {"s": False})]
    run(store, lambda tx: tx.complete_settlements(settled))
    assert run(store, lambda tx: tx.due_settlements(70.0, 10)) == []
    first, second = run(store, lambda tx: (tx.event("e1"), tx.event("e2")))
    assert first is not None and second is not None
    assert first["decision"] == {"immediate": {"a": 1}, "settled": {"s": True}}
    assert list(first["decision"]) == ["immediate", "settled"]
    assert first["event"]["bot"] == 2  # the settled verdict replaced the immediate one
    assert "bot" not in second["event"]  # no verdict either time
    assert first["settled"] and second["settled"]


# outbox ------------------------------------------------------------------------------------
def test_deliveries_are_added_once_and_claimed_under_a_lease(store: Store) -> None:
    """A claim leases due deliveries oldest first; leased ones are not due until it ends."""
    added = run(store, lambda tx: tx.add_deliveries([delivery("e2", at=20.0), delivery("e1")]))
    again = run(store, lambda tx: tx.add_deliveries([delivery("e1"), delivery("e3", at=30.0)]))
    assert (added, again) == (2, 1)
    claimed = run(store, lambda tx: tx.claim_deliveries(now=25.0, limit=10, lease=100.0))
    assert [(d.id, d.attempt, d.first_attempt_at) for d in claimed] == [
        ("d-e1-a1", 1, None),
        ("d-e2-a1", 1, None),
    ]
    assert claimed[0].body == b"body" and claimed[0].action_id == "a1"
    assert [d.id for d in run(store, lambda tx: tx.claim_deliveries(40.0, 10, 100.0))] == [
        "d-e3-a1"
    ]
    assert run(store, lambda tx: tx.claim_deliveries(110.0, 10, 100.0)) == []
    expired = run(store, lambda tx: tx.claim_deliveries(126.0, 10, 100.0))
    assert sorted(d.id for d in expired) == ["d-e1-a1", "d-e2-a1"]  # due again (a crash)


def test_attempts_retry_then_die_and_replay_resets(store: Store) -> None:
    """Attempts move a delivery through retry, dead and delivered; replay revives it."""
    run(store, lambda tx: tx.add_deliveries([delivery("e1"), delivery("e2")]))
    run(store, lambda tx: tx.claim_deliveries(10.0, 10, 5.0))
    first = [
        attempt("d-e1-a1", 1, "retry", 10.0, 20.0),
        attempt("d-e2-a1", 1, "delivered", 10.0, None),
    ]
    run(store, lambda tx: tx.record_attempts(first))
    assert run(store, lambda tx: tx.claim_deliveries(19.0, 10, 5.0)) == []
    retried = run(store, lambda tx: tx.claim_deliveries(20.0, 10, 5.0))
    assert [(d.id, d.attempt, d.first_attempt_at) for d in retried] == [("d-e1-a1", 2, 10.0)]
    run(store, lambda tx: tx.record_attempts([attempt("d-e1-a1", 2, "dead", 21.0, None)]))
    assert run(store, lambda tx: tx.counts()) == {"dead": 1, "delivered": 1}
    dead = run(store, lambda tx: tx.list_deliveries("dead", 10))
    assert [(d.id, d.attempts, d.last_status, d.last_error, d.rule_ids) for d in dead] == [
        ("d-e1-a1", 2, 500, "boom", ["r1", "r2"])
    ]
    assert [d.id for d in run(store, lambda tx: tx.list_deliveries(None, 10))] == [
        "d-e1-a1",
        "d-e2-a1",
    ]
    assert run(store, lambda tx: tx.replay(None, 30.0)) == 1
    assert run(store, lambda tx: tx.replay(["d-e1-a1", "d-e2-a1", "nope"], 31.0)) == 1
    assert run(store, lambda tx: tx.counts()) == {"pending": 2}
    again = run(store, lambda tx: tx.claim_deliveries(40.0, 10, 5.0))
    assert sorted((d.id, d.attempt, d.first_attempt_at) for d in again) == [
        ("d-e1-a1", 3, None),
        ("d-e2-a1", 2, None),
    ]


# control tasks -----------------------------------------------------------------------------
def test_tasks_are_leased_retried_and_given_up_after_twenty_failures(store: Store) -> None:
    """A failing task is retried at its retry time; the 20th failure marks it failed."""
    tasks = [TaskRecord("a", b"1"), TaskRecord("b", b"2")]
    run(store, lambda tx: tx.ingest(batch("e1", tasks=tasks)))
    claimed = run(store, lambda tx: tx.claim_tasks(10.0, 10, 30.0))
    assert [t.kind for t in claimed] == ["a", "b"]
    assert run(store, lambda tx: tx.claim_tasks(20.0, 10, 30.0)) == []
    first, second = claimed
    run(store, lambda tx: tx.finish_task(first.id, None, 11.0, 0.0))
    for n in range(20):
        retry = run(store, lambda tx, n=n: tx.claim_tasks(1000.0 + n, 10, 1.0))
        assert [(t.id, t.attempts) for t in retry] == [(second.id, n)]
        run(store, lambda tx, n=n: tx.finish_task(second.id, f"e{n}", 1000.0 + n, 1000.5 + n))
    assert run(store, lambda tx: tx.claim_tasks(10_000.0, 10, 1.0)) == []


# reading and housekeeping ------------------------------------------------------------------
def test_list_events_filters_and_pages_newest_first(store: Store) -> None:
    """Filters by type and source; `before` pages by sequence number."""
    run(store, lambda tx: tx.ingest(batch("e1", "e2", "e3")))
    other = EventRecord("s1", "email.sent", "other", "brevo", 1.0, 3.0, b'{"id": "s1"}', b"{}")
    sent = IngestBatch("other", 3.0, [other])
    run(store, lambda tx: tx.ingest(sent))
    everything = run(store, lambda tx: tx.list_events())
    assert [e["event"]["id"] for e in everything] == ["s1", "e3", "e2", "e1"]
    assert everything[1]["raw"] == {"raw": 1} and everything[1]["decision"] is None
    page = run(store, lambda tx: tx.list_events(type="email.clicked", limit=2))
    assert [e["event"]["id"] for e in page] == ["e3", "e2"]
    rest = run(store, lambda tx: tx.list_events(before=page[-1]["seq"]))
    assert [e["event"]["id"] for e in rest] == ["e1"]
    assert [e["event"]["id"] for e in run(store, lambda tx: tx.list_events(source="other"))] == [
        "s1"
    ]
    assert run(store, lambda tx: tx.event("missing")) is None


def test_a_poison_payload_reads_back_as_text(store: Store) -> None:
    """A payload that is not JSON is returned as text, not an error."""
    bad = EventRecord("p", "email.clicked", "cio", "customerio", 1.0, 2.0, b"not json", b"{}")
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 2.0, [bad])))
    assert run(store, lambda tx: tx.event("p"))["event"] == "not json"  # type: ignore[index]


def test_prune_forgets_old_finished_work_only(store: Store) -> None:
    """Old, routed, settled events go, unless a delivery of theirs is still pending."""
    old = IngestBatch("cio", 1.0, [event("old", 1.0), event("busy", 1.0), event("raw", 1.0)])
    run(store, lambda tx: tx.ingest(old))
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 500.0, [event("new", 500.0)])))
    run(store, lambda tx: tx.complete_events([Routed(i, None, {}) for i in ("old", "busy", "new")]))
    run(store, lambda tx: tx.add_deliveries([delivery("busy")]))
    assert run(store, lambda tx: tx.prune(now=1000.0, retention_seconds=600.0)) == 1
    left = {e["event"]["id"] for e in run(store, lambda tx: tx.list_events())}
    assert left == {"busy", "raw", "new"}
    assert run(store, lambda tx: tx.prune(now=1000.0, retention_seconds=600.0)) == 0


def test_a_closed_store_is_unavailable(store: Store) -> None:
    """Transactions on a store that is not open raise StorageUnavailable (a 503)."""
    store.close_sync()
    with pytest.raises(StorageUnavailable):
        run(store, lambda tx: tx.counts())

    async def closed() -> Any:
        return await store.transaction(lambda tx: tx.counts())

    with pytest.raises(StorageUnavailable):
        asyncio.run(closed())
    store.open_sync()
    assert run(store, lambda tx: tx.counts()) == {}


def test_ping_answers_when_open(store: Store) -> None:
    """ping() is True on an open store."""
    assert asyncio.run(store.ping()) is True
