"""Firing due timers: each check or wait becomes events in the inbox, exactly once.

Everything happens inside one storage transaction: the claim (which holds the timers
against any other worker), reading recipients and clicks, storing the emitted events and
moving the timer on. A crash at any point rolls all of it back, and the next claim does
the same work again with the same derived ids. A check over a whole send streams its
recipients in key order, a page at a time, with a cursor in the timer row, so its memory
stays flat and each transaction stays short: the web process waits for the write lock
while a worker holds it, and a budget of 500 recipients keeps that to ~10-15 ms
(bench/scenarios.py; 2,000 held it for 40-55 ms).

A check counts a click only on its settled verdict: when clicks made before the check's
time are still waiting for theirs, the check waits for them too (up to `max_defer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from connector.rules.model import RuleSettings
from connector.scenarios.emit import clicked_copy, scheduled_event
from connector.scenarios.keys import early_click_key
from connector.scenarios.selection import ClickFilter
from connector.storage.base import EventRecord, IngestBatch, Tx
from connector.storage.scenario_records import IndexedClick, TimerRow

log = structlog.get_logger("connector.scenarios")

_AUDIENCE = {"delivered": ("delivered", "registered"), "sent": ("delivered", "registered", "sent")}


@dataclass(slots=True)
class Fired:
    """One firing transaction's outcome."""

    timers: int = 0
    events: list[EventRecord] = field(default_factory=list)
    evaluated: int = 0  # recipients looked at
    next_due: float | None = None  # when the next pending timer is due, after this pass


class TimerFiring:
    """Fires due timers for the configured rules, within a per-transaction budget."""

    def __init__(
        self,
        rules: Mapping[str, RuleSettings],
        *,
        page: int = 250,
        budget: int = 500,
        max_defer: float = 420.0,
    ) -> None:
        self.rules = rules
        self.page = page
        self.budget = budget
        self.max_defer = max_defer

    def fire(self, tx: Tx, now: float) -> Fired:
        fired = Fired()
        for timer in tx.claim_timers(now, 100):
            if fired.evaluated >= self.budget:
                break
            fired.timers += 1
            rule = self.rules.get(timer.rule_id)
            if rule is None or timer.kind != rule.trigger:
                tx.finish_timer(timer.id, "cancelled", now)
                log.warning("scenario.timer_orphaned", timer=timer.id, rule=timer.rule_id)
                continue
            try:
                self._fire_one(tx, timer, rule, now, fired)
            except Exception:  # a poison timer must not hold back every other one
                log.exception("scenario.timer_failed", timer=timer.id, rule=timer.rule_id)
                tx.finish_timer(timer.id, "failed", now)
        if fired.events:
            tx.ingest(IngestBatch(source="scenarios", received_at=now, events=fired.events))
        fired.next_due = tx.next_timer_due()
        return fired

    def _fire_one(
        self, tx: Tx, timer: TimerRow, rule: RuleSettings, now: float, out: Fired
    ) -> None:
        if timer.kind == "wait":
            self._end_wait(tx, timer, now, out)
            return
        if self._defer(tx, timer, now):
            return
        if timer.recipient is not None:
            self._one_recipient(tx, timer, rule, now, out)
        elif timer.kind == "not_clicked":
            self._not_clicked_page(tx, timer, rule, now, out)
        else:
            self._clicked_by_page(tx, timer, rule, now, out)

    def _end_wait(self, tx: Tx, timer: TimerRow, now: float, out: Fired) -> None:
        """A wait still pending at its end: answered by a click that came before its
        delivery (the engine kept it; the delivery made the wait due at once), else timed
        out. Either event has the wait's one derived id."""
        recipient = timer.recipient or ""
        early = tx.entry_holder(
            early_click_key(timer.rule_id, recipient, timer.send.id), "", now, None
        )
        stored = None if early is None or early[2] >= timer.due_at else tx.click_payload(early[1])
        if stored is not None:
            out.events.append(clicked_copy(timer, recipient, stored[0], stored[1], now, "wait"))
            tx.finish_timer(timer.id, "clicked", now, 1)
        else:
            out.events.append(
                scheduled_event("email.click_timeout", timer, recipient, timer.data, now)
            )
            tx.finish_timer(timer.id, "timed_out", now, 1)
        out.evaluated += 1

    def _defer(self, tx: Tx, timer: TimerRow, now: float) -> bool:
        """Wait for clicks made before the check's time to be settled (not mid-stream)."""
        if timer.cursor is not None or now >= timer.due_at + self.max_defer:
            return False
        until = tx.unsettled_until(timer.send, timer.recipient, timer.due_at)
        if until is None:
            return False
        tx.defer_timer(timer.id, max(until + 0.05, now + 0.5))
        return True

    def _one_recipient(
        self, tx: Tx, timer: TimerRow, rule: RuleSettings, now: float, out: Fired
    ) -> None:
        """A per-delivery `not_clicked`: one recipient of one message."""
        recipient = timer.recipient or ""
        clicks = tx.send_clicks(timer.send, recipient, recipient, timer.due_at)
        emitted = 0
        if not any(ClickFilter.of(rule).counts(click) for click in clicks):
            out.events.append(
                scheduled_event("email.not_clicked", timer, recipient, timer.data, now)
            )
            emitted = 1
        tx.finish_timer(timer.id, "done", now, emitted)
        out.evaluated += 1

    def _not_clicked_page(
        self, tx: Tx, timer: TimerRow, rule: RuleSettings, now: float, out: Fired
    ) -> None:
        statuses = _AUDIENCE[rule.audience]
        test = ClickFilter.of(rule)
        cursor = timer.cursor or ""
        while out.evaluated < self.budget:
            people = tx.send_recipients(timer.send, cursor, self.page, statuses)
            if not people:
                tx.finish_timer(timer.id, "done", now)
                return
            clicked = _clickers(
                tx.send_clicks(timer.send, people[0].recipient, people[-1].recipient, timer.due_at),
                test,
            )
            emitted = 0
            for person in people:
                if person.recipient in clicked or (person.test and not rule.include_test_sends):
                    continue
                out.events.append(
                    scheduled_event("email.not_clicked", timer, person.recipient, person.data, now)
                )
                emitted += 1
            cursor = people[-1].recipient
            tx.advance_timer(timer.id, cursor, emitted)
            out.evaluated += len(people)
            if len(people) < self.page:
                tx.finish_timer(timer.id, "done", now)
                return

    def _clicked_by_page(
        self, tx: Tx, timer: TimerRow, rule: RuleSettings, now: float, out: Fired
    ) -> None:
        test = ClickFilter.of(rule)
        cursor = timer.cursor or ""
        while out.evaluated < self.budget:
            people = tx.clicked_recipients(timer.send, cursor, self.page, timer.due_at)
            if not people:
                tx.finish_timer(timer.id, "done", now)
                return
            firsts = _first_clicks(
                tx.send_clicks(timer.send, people[0], people[-1], timer.due_at), test
            )
            emitted = 0
            for recipient, click in firsts.items():
                stored = tx.click_payload(click.event_id)
                if stored is None:  # pruned since
                    continue
                out.events.append(clicked_copy(timer, recipient, stored[0], stored[1], now))
                emitted += 1
            cursor = people[-1]
            tx.advance_timer(timer.id, cursor, emitted)
            out.evaluated += len(people)
            if len(people) < self.page:
                tx.finish_timer(timer.id, "done", now)
                return


def _clickers(clicks: list[IndexedClick], test: ClickFilter) -> set[str]:
    return {click.recipient for click in clicks if test.counts(click)}


def _first_clicks(clicks: list[IndexedClick], test: ClickFilter) -> dict[str, IndexedClick]:
    """Each recipient's first counting click (the list is ordered by recipient, time)."""
    firsts: dict[str, IndexedClick] = {}
    for click in clicks:
        if click.recipient not in firsts and test.counts(click):
            firsts[click.recipient] = click
    return firsts
