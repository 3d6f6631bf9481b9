"""Settling reuses what `observe` found only when that cannot change the verdict."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connector.bots.detector import Detector
from connector.bots.facts import Facts
from connector.bots.keys import epoch_seconds
from connector.bots.observed import Observed, PendingClicks
from connector.bots.settings import BotSettings
from connector.bots.state import BotState, MemoryState
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState
from schemas.events import Bot, EmailClicked, EmailDelivered
from tests.bots.helpers import (
    CLOUD,
    SCANNER_CHROME,
    T0,
    TEST_INDEX,
    VENDOR,
    clicked,
    delivered,
    detector,
)


def _uncached() -> Detector:
    """The same detector remembering nothing between the passes: always assesses in full."""
    return Detector(BotSettings(use_cloudip_package=False), TEST_INDEX, pending_clicks=0)


def _spy_on_assessments(found: Detector, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Event ids the detector fully assessed (as opposed to reusing the immediate reasons)."""
    calls: list[str] = []
    original = found._hits

    def counting(facts: Facts, *args: Any) -> list[tuple[str, str]]:
        calls.append(facts.record.event_id)
        return original(facts, *args)

    monkeypatch.setattr(found, "_hits", counting)
    return calls


def _verdicts(found: Detector, events: list[EmailClicked | EmailDelivered]) -> list[Bot]:
    state = MemoryState()
    out = []
    for event in sorted(events, key=lambda e: e.received_at):
        verdict = found.observe(event, state)
        if verdict is not None:
            out.append(verdict)
    clicks = [e for e in events if isinstance(e, EmailClicked)]
    return out + [found.settle(click, state) for click in clicks]


def test_unchanged_evidence_reuses_the_immediate_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lone click whose message and address saw nothing new settles without reassessing."""
    found = detector()
    calls = _spy_on_assessments(found, monkeypatch)
    click = clicked(5, ip=VENDOR, agent=SCANNER_CHROME)
    state = MemoryState()
    found.observe(delivered(), state)
    immediate = found.observe(click, state)
    settled = found.settle(click.model_copy(deep=True), state)
    assert calls == [click.id]
    assert immediate is not None and settled.phase == "settled"
    assert settled.reasons == immediate.reasons and settled.score == immediate.score
    assert settled == _uncached().settle(click, state)


def test_a_later_click_of_the_message_forces_a_new_assessment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first click of a scan is reassessed and gains the burst its followers reveal."""
    found = detector()
    calls = _spy_on_assessments(found, monkeypatch)
    scan = [clicked(4 + 0.4 * n, link=n, ip=CLOUD, agent=SCANNER_CHROME) for n in range(3)]
    state = MemoryState()
    immediate = [found.observe(click, state) for click in scan]
    settled = found.settle(scan[0], state)
    assert calls == [c.id for c in scan] + [scan[0].id]
    assert immediate[0] is not None and "burst.links" not in {r.code for r in immediate[0].reasons}
    assert "burst.links" in {r.code for r in settled.reasons}


def test_settling_by_id_gives_the_verdict_settle_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """`settle_by_id` (the service's path: no click read back) gives what `settle` gives,
    reusing the immediate reasons when they stand and reassessing from the kept facts when
    later evidence came in; None for a click it does not hold."""
    found = detector()
    lone = clicked(5, ip=VENDOR, agent=SCANNER_CHROME)
    scan = [
        clicked(40 + 0.4 * n, message="m2", link=n, ip=CLOUD, agent=SCANNER_CHROME, link_count=3)
        for n in range(3)
    ]
    state = MemoryState()
    found.observe(delivered(), state)
    for click in [lone, *scan]:
        found.observe(click, state)
    calls = _spy_on_assessments(found, monkeypatch)
    by_id = found.settle_by_id(lone.id, state)
    assert by_id is not None and by_id.phase == "settled"
    assert by_id == _uncached().settle(lone, state)
    assert calls == []  # its reasons stood
    assert found.settle_by_id(lone.id, state) is None  # taken: settled once
    first = found.settle_by_id(scan[0].id, state)  # its followers came later
    assert calls == [scan[0].id]
    assert first == _uncached().settle(scan[0], state)
    assert {"burst.links", "behaviour.all_links"} & {r.code for r in first.reasons}
    assert found.settle_by_id("evt_never_observed", state) is None


def test_a_changed_click_is_read_again() -> None:
    """Settling a click whose fields changed since observe ignores what was remembered."""
    found = detector()
    click = clicked(5, ip=VENDOR, agent=SCANNER_CHROME)
    state = MemoryState()
    found.observe(click, state)
    changed = click.model_copy(update={"metadata": {"esp_bot_hint": 1}}, deep=True)
    reference = _uncached()
    assert found.settle(changed, state) == reference.settle(changed, state)
    assert "esp.bot_hint" in {r.code for r in found.settle(changed, state).reasons}


def test_true_and_one_hints_are_told_apart() -> None:
    """The ESP hint keeps its type in the fingerprint: True and 1 read differently."""
    found = detector()
    state = MemoryState()
    flagged = clicked(5, metadata={"esp_bot_hint": True})
    found.observe(flagged, state)
    as_number = flagged.model_copy(update={"metadata": {"esp_bot_hint": 1}}, deep=True)
    details = {r.detail for r in found.settle(as_number, state).reasons}
    assert "metadata['esp_bot_hint'] = '1'" in details


def test_verdicts_do_not_depend_on_the_cache() -> None:
    """A scripted mix of scans, checks and people gives the same verdicts with or without it."""
    events: list[EmailClicked | EmailDelivered] = [delivered(link_count=3), delivered("m2")]
    events += [clicked(3 + 0.3 * n, link=n, ip=VENDOR, agent=SCANNER_CHROME) for n in range(3)]
    events += [clicked(1797, link=1, ip=CLOUD), clicked(1800, link=1), clicked(1800.4, link=1)]
    events += [clicked(40 + n, message="m2", ip=CLOUD, recipient=f"p{n}") for n in range(6)]
    events += [clicked(9, message="m3", lag=400), clicked(20, message="m3", link=2)]
    # one campaign: many recipients on one link, one of them arriving late; a message
    # without its delivered event swept soon after the campaign's first delivery
    events += [delivered(f"k{n}", campaign_id="k", recipient=f"k{n}") for n in range(3)]
    events += [
        clicked(12 + 0.2 * n, message=f"k{n}", campaign="k", recipient=f"k{n}", lag=1 + 60 * n)
        for n in range(4)
    ]
    events += [clicked(30 + 0.4 * n, message="k9", link=n, campaign="k") for n in range(3)]
    assert _verdicts(detector(), events) == _verdicts(_uncached(), events)


def test_pending_clicks_are_bounded() -> None:
    """Beyond its limit the oldest observed click is forgotten (and later fully assessed)."""
    pending = PendingClicks(limit=2)
    remembered = Observed((), None, None, (), None, (0, ()))  # type: ignore[arg-type]
    for event_id in ("a", "b", "a", "c"):
        pending.remember(event_id, remembered)
    assert len(pending) == 2
    assert pending.take("b") is None
    assert pending.take("a") is remembered and pending.take("c") is remembered
    assert len(pending) == 0


def _states(tmp_path: Path) -> list[BotState]:
    conn = sqlite3.connect(tmp_path / "bots.db")
    conn.executescript(SQLITE_SCHEMA)
    return [MemoryState(ttl_seconds=1), SqliteState(conn, ttl_seconds=1)]


def test_clicks_processed_before_an_earlier_arrival_are_not_missed(tmp_path: Path) -> None:
    """Rows that arrived after the click but were stored before it count when it settles."""
    scan = [clicked(4 + 0.3 * n, link=n, ip=CLOUD, agent=SCANNER_CHROME, lag=99) for n in range(3)]
    first = clicked(3.7, link=3, ip=CLOUD, agent=SCANNER_CHROME)
    for state in _states(tmp_path):
        found = detector()
        for click in (*scan, first):  # processed out of arrival order (a retried batch)
            found.observe(click, state)
        settled = found.settle(first, state)
        assert "burst.links" in {r.code for r in settled.reasons}
        assert settled == _uncached().settle(first, state)


def test_pruning_between_the_passes_is_seen(tmp_path: Path) -> None:
    """Evidence the immediate verdict used but pruning removed since is not reused."""
    early, late = clicked(0, link=0, lag=0.5), clicked(0.4, link=1, lag=0.6)
    for state in _states(tmp_path):
        found = detector()
        found.observe(early, state)
        immediate = found.observe(late, state)
        assert immediate is not None and "burst.same_second" in {r.code for r in immediate.reasons}
        state.prune(epoch_seconds(T0) + 1.75)  # forgets `early` (arrived at +0.5), keeps `late`
        settled = found.settle(late, state)
        assert "burst.same_second" not in {r.code for r in settled.reasons}
        assert settled == _uncached().settle(late, state)
