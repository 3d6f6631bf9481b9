"""Clicks of one loop turn go into the inbox as one ingest; each is answered after its COMMIT."""

from __future__ import annotations

import asyncio
import re

from connector.errors import StorageUnavailable
from connector.links.event import click_id
from connector.links.inbox import ClickInbox
from connector.metrics import Metrics
from connector.storage.base import EventRecord, IngestBatch, IngestOutcome
from connector.storage.gather import MAX_WAIT_TURNS


class RecordingStore:
    """Keeps each ingest's event ids; refuses any batch holding an id in `bad` (or all)."""

    def __init__(self, bad: frozenset[str] = frozenset(), down: bool = False) -> None:
        self.bad, self.down = bad, down
        self.batches: list[list[str]] = []

    async def ingest(self, batch: IngestBatch) -> IngestOutcome:
        ids = [event.id for event in batch.events]
        if self.down or self.bad.intersection(ids):
            raise StorageUnavailable("down")
        self.batches.append(ids)
        return IngestOutcome(new=ids, duplicates=[])


def _record(event_id: str) -> EventRecord:
    return EventRecord(event_id, "link.clicked", "links", "trigger", 1.0, 1.0, b"{}", b"{}")


def _clicks(store: RecordingStore, ids: list[str]) -> tuple[list[bool], list[int], Metrics]:
    """Put every id in the same loop turn; what each click was told and how often wakes ran."""
    metrics = Metrics()
    woken: list[int] = []
    inbox = ClickInbox(store, lambda: woken.append(1), metrics)  # type: ignore[arg-type]

    async def main() -> list[bool]:
        return list(await asyncio.gather(*(inbox.put(_record(i), "s", True) for i in ids)))

    return asyncio.run(main()), woken, metrics


def _hold(store: RecordingStore) -> asyncio.Event:
    """Make every ingest of `store` wait until the returned event is set."""
    release = asyncio.Event()
    ingest = store.ingest

    async def held_ingest(batch: IngestBatch) -> IngestOutcome:
        await release.wait()
        return await ingest(batch)

    store.ingest = held_ingest  # type: ignore[method-assign]
    return release


def _counted(metrics: Metrics, outcome: str) -> float | None:
    labels = {"source": "trigger_links", "outcome": outcome}
    return metrics.registry.get_sample_value("connector_webhooks_total", labels)


def test_clicks_of_one_turn_are_one_ingest() -> None:
    """Three concurrent clicks: one batch of three events, each told stored, one wake."""
    store = RecordingStore()
    answers, woken, metrics = _clicks(store, ["a", "b", "c"])
    assert (answers, store.batches, woken) == ([True] * 3, [["a", "b", "c"]], [1])
    assert _counted(metrics, "stored") == 3


def test_clicks_during_an_ingest_wait_for_it_then_go_together() -> None:
    """One ingest in flight: clicks of later turns are the next batch, all of them at once."""
    store = RecordingStore()
    release = _hold(store)
    inbox = ClickInbox(store, lambda: None)  # type: ignore[arg-type]

    async def main() -> list[bool]:
        first = asyncio.ensure_future(inbox.put(_record("a"), "s", True))
        await asyncio.sleep(0.01)  # "a" is in flight
        later = [asyncio.ensure_future(inbox.put(_record("b"), "s", True))]
        await asyncio.sleep(0.01)  # a later turn of the loop
        later.append(asyncio.ensure_future(inbox.put(_record("c"), "s", True)))
        await asyncio.sleep(0.01)
        release.set()
        return list(await asyncio.gather(first, *later))

    assert asyncio.run(main()) == [True] * 3
    assert store.batches == [["a"], ["b", "c"]]


def _spread(clicks: int) -> list[list[str]]:
    """Batches stored when one click comes in each of `clicks` consecutive loop turns."""
    store = RecordingStore()
    inbox = ClickInbox(store, lambda: None)  # type: ignore[arg-type]

    async def main() -> list[bool]:
        puts = []
        for i in range(clicks):
            puts.append(asyncio.ensure_future(inbox.put(_record(f"c{i}"), "s", True)))
            await asyncio.sleep(0)  # the next loop turn
        return list(await asyncio.gather(*puts))

    assert asyncio.run(main()) == [True] * clicks
    return store.batches


def test_a_burst_read_over_a_few_turns_is_one_ingest() -> None:
    """Requests that arrive over consecutive turns wait for the turn that adds none: one batch."""
    assert _spread(3) == [["c0", "c1", "c2"]]


def test_a_steady_trickle_does_not_hold_a_batch_back() -> None:
    """A click every turn: the first batch goes after at most MAX_WAIT_TURNS turns of waiting."""
    batches = _spread(4 * MAX_WAIT_TURNS)
    assert len(batches[0]) <= MAX_WAIT_TURNS + 2
    assert [i for batch in batches for i in batch] == [f"c{i}" for i in range(4 * MAX_WAIT_TURNS)]


def test_one_bad_click_does_not_take_the_others_with_it() -> None:
    """The batch fails, so each click is retried alone: only the bad one is not stored."""
    store = RecordingStore(bad=frozenset({"b"}))
    answers, _, metrics = _clicks(store, ["a", "b", "c"])
    assert answers == [True, False, True]
    assert sorted(store.batches) == [["a"], ["c"]]
    assert (_counted(metrics, "stored"), _counted(metrics, "not_stored")) == (2, 1)


def test_storage_down_answers_every_click_not_stored() -> None:
    """Nothing committed: every click is told so, counted, and the worker is not woken."""
    answers, woken, metrics = _clicks(RecordingStore(down=True), ["a", "b"])
    assert (answers, woken, _counted(metrics, "not_stored")) == ([False, False], [], 2)


def test_click_ids_are_unique_and_in_time_order() -> None:
    """32 hex characters, each one after the one before (the inbox index grows at its end)."""
    ids = [click_id() for _ in range(1000)]
    assert all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert [i[:16] for i in ids] == sorted(i[:16] for i in ids)


def test_a_click_is_answered_when_storage_stalls_and_stored_when_it_resumes() -> None:
    """Storage stuck (another process holding SQLite's write lock): the click in flight and
    one waiting behind it are answered after `answer_within`, not when the lock frees; both
    are still stored, and counted, once the commit comes."""
    store = RecordingStore()
    release = _hold(store)
    metrics = Metrics()
    inbox = ClickInbox(store, lambda: None, metrics, answer_within=0.05)  # type: ignore[arg-type]

    async def main() -> tuple[list[bool], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        first = asyncio.ensure_future(inbox.put(_record("a"), "s", True))
        await asyncio.sleep(0.01)  # "a" is in flight, "b" waits behind it
        second = asyncio.ensure_future(inbox.put(_record("b"), "s", True))
        answers = list(await asyncio.wait_for(asyncio.gather(first, second), 5))
        waited = loop.time() - started
        assert store.batches == [] and _counted(metrics, "stored") is None
        release.set()
        for _ in range(100):
            if store.batches == [["a"], ["b"]]:
                break
            await asyncio.sleep(0.01)
        return answers, waited

    answers, waited = asyncio.run(main())
    assert answers == [False, False]  # answered, not yet confirmed
    assert 0.05 <= waited < 1.0
    assert store.batches == [["a"], ["b"]]
    assert _counted(metrics, "stored") == 2
