"""The storage contract's dashboard views (`ViewOps`), on every backend."""

from __future__ import annotations

from connector.storage.base import EventRecord, IngestBatch, RejectedItem, Routed
from connector.storage.view_records import EventQuery
from tests.storage.conftest import Store
from tests.storage.test_contract import run


def _event(event_id: str, source: str, received: float, type: str = "email.clicked") -> EventRecord:
    payload = b'{"id": "%s"}' % event_id.encode()
    return EventRecord(event_id, type, source, "customerio", 1.0, received, payload, b"{}")


def _decision(*rules: str) -> dict[str, object]:
    matched = [{"rule": r, "actions": ["a"], "wait_for_settled": False} for r in rules]
    return {"matched": matched, "unmatched": []}


def _seed(store: Store) -> None:
    events = [
        _event("h1", "cio", 10.0),
        _event("b1", "cio", 20.0),
        _event("o1", "other", 30.0, type="email.opened"),
        _event("u1", "cio", 40.0),
    ]
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 10.0, events)))
    routed = [
        Routed("h1", b'{"suspected": false, "score": 5}', _decision("vip")),
        Routed("b1", b'{"suspected": true, "score": 90}', _decision("all", "vip")),
        Routed("o1", b'{"suspected": false}', _decision("all")),
        Routed("u1", None, _decision()),
    ]
    run(store, lambda tx: tx.complete_events(routed))


def _ids(store: Store, query: EventQuery) -> list[str]:
    return [e["event"]["id"] for e in run(store, lambda tx: tx.event_page(query))]


def test_event_page_filters_by_source_type_verdict_and_rule(store: Store) -> None:
    """Each filter narrows the page; results stay newest first."""
    _seed(store)
    assert _ids(store, EventQuery()) == ["u1", "o1", "b1", "h1"]
    assert _ids(store, EventQuery(source="cio")) == ["u1", "b1", "h1"]
    assert _ids(store, EventQuery(type="email.opened")) == ["o1"]
    assert _ids(store, EventQuery(suspected=True)) == ["b1"]
    assert _ids(store, EventQuery(suspected=False)) == ["u1", "o1", "h1"]
    assert _ids(store, EventQuery(rule="vip")) == ["b1", "h1"]
    assert _ids(store, EventQuery(rule="vip", suspected=False, source="cio")) == ["h1"]


def test_event_page_pages_by_seq_and_limit(store: Store) -> None:
    """`before` continues below a seq and `limit` caps the page."""
    _seed(store)
    first = run(store, lambda tx: tx.event_page(EventQuery(limit=2)))
    assert [e["event"]["id"] for e in first] == ["u1", "o1"]
    assert _ids(store, EventQuery(before=first[-1]["seq"], limit=2)) == ["b1", "h1"]


def test_source_view_counts_events_and_rejections_since(store: Store) -> None:
    """Last event, counts since a moment and the newest rejection reason of one source."""
    _seed(store)
    rejected = [RejectedItem(-1, "bad item", b"{}"), RejectedItem(0, "no recipient", b"{}")]
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 35.0, [], rejected=rejected[:1])))
    run(store, lambda tx: tx.ingest(IngestBatch("cio", 50.0, [], rejected=rejected[1:])))
    view = run(store, lambda tx: tx.source_view("cio", 15.0))
    assert (view.last_event_at, view.accepted, view.rejected) == (40.0, 2, 2)
    assert (view.last_rejected_at, view.last_rejection) == (50.0, "no recipient")
    empty = run(store, lambda tx: tx.source_view("nobody", 0.0))
    assert (empty.last_event_at, empty.accepted, empty.rejected, empty.last_rejection) == (
        None,
        0,
        0,
        None,
    )
