"""The scenario engine's part in routing: what each stored event starts, and which matches
may fire (first response, re-entry, waits).

The processor calls it inside its routing transaction, so every read and write here is
atomic with the event's own routing: a delivery's timers start with it, a click closes a
wait in the same commit that queues its `on_click` delivery, and a group's first response
is recorded with the delivery it wins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from connector.rules.decision import Decision, MatchedRule, UnmatchedRule
from connector.rules.links import SYSTEM_LINK_KINDS, classify_link
from connector.rules.model import RuleSettings
from connector.scenarios.early import answered_early, no_wait
from connector.scenarios.emit import envelope
from connector.scenarios.entries import lost_reason, once_key
from connector.scenarios.firing import Fired, TimerFiring
from connector.scenarios.keys import (
    api_check_id,
    config_check_id,
    delivery_timer_id,
    message_ids,
    recipient_key,
    send_of,
)
from connector.storage.base import Tx
from connector.storage.scenario_records import (
    ClickRecord,
    RecipientRecord,
    SendKey,
    TimerKind,
    TimerRecord,
)

_RECIPIENT_STATUS = {"email.delivered": "delivered", "email.sent": "sent"}


class ScenarioEngine:
    def __init__(self, rules: Iterable[RuleSettings]) -> None:
        chosen = list(rules)
        self.rules = {rule.id: rule for rule in chosen}
        self.firing = TimerFiring(self.rules)
        self._starts = [rule for rule in chosen if _starts_on_delivery(rule)]
        self._gated = {
            rule.id
            for rule in chosen
            if rule.group or rule.once_per != "event" or rule.trigger == "wait"
        }

    # what events start ----------------------------------------------------------------
    def observe(
        self,
        tx: Tx,
        data: dict[str, Any],
        suspected: bool,
        settle_at: float | None,
        now: float,
    ) -> None:
        """Index a click, or record a delivery's recipient and start its rules' timers."""
        kind = data.get("type")
        if data.get("scenario") is not None:
            return
        recipient = recipient_key(data)
        if recipient is None:
            return
        if kind == "email.clicked":
            tx.record_clicks([_click(data, recipient, suspected, settle_at)])
        elif kind in _RECIPIENT_STATUS:
            self._recipient(tx, data, recipient, _RECIPIENT_STATUS[kind], now)

    def _recipient(
        self, tx: Tx, data: dict[str, Any], recipient: str, status: str, now: float
    ) -> int:
        """Record one recipient; the timers their delivery starts (how many were new)."""
        message_id, campaign_id = message_ids(data)
        at = _epoch(data.get("occurred_at")) or now
        who = envelope(data)
        test = bool(data.get("test"))
        tx.record_recipients(
            [RecipientRecord(recipient, message_id, campaign_id, status, at, test, who)]
        )
        send = _started(data)
        timers = [
            answered_early(tx, _delivery_timer(rule, send, recipient, at, who, now))
            for rule in self._starts
            if starts_for(rule, status, message_id, campaign_id, test)
        ]
        return tx.add_timers(timers) if timers else 0

    def register(self, tx: Tx, people: list[dict[str, Any]], now: float) -> int:
        """Recipients registered through the API: as if delivered (`occurred_at`)."""
        started = 0
        for data in people:
            recipient = recipient_key(data)
            if recipient is not None:
                started += self._recipient(tx, data, recipient, "registered", now)
        return started

    def start_wait(
        self, tx: Tx, rule: RuleSettings, data: dict[str, Any], started_at: float, now: float
    ) -> tuple[str, bool]:
        """A wait started through the API; the same one a delivery of that message starts."""
        recipient = recipient_key(data) or ""
        timer = _delivery_timer(rule, _started(data), recipient, started_at, envelope(data), now)
        return timer.id, tx.add_timers([answered_early(tx, timer)]) == 1

    def settled(self, tx: Tx, event_id: str, suspected: bool) -> None:
        tx.settle_clicks([(event_id, suspected)])

    def schedule_config_checks(self, tx: Tx, now: float) -> int:
        """The checks config rules carry (`at` + `send`): created once, moved with the rule."""
        added = 0
        for rule in self.rules.values():
            keep: list[str] = []
            if rule.at is not None and rule.scheduled:
                timer = new_check(rule, send_key(rule.send), rule.at.timestamp(), "config", now)
                keep.append(timer.id)
                added += tx.add_timers([timer])
            tx.cancel_stale_config_timers(rule.id, keep, now)
        return added

    def fire(self, tx: Tx, now: float) -> Fired:
        return self.firing.fire(tx, now)

    # which matches may fire -------------------------------------------------------------
    def admit(
        self,
        tx: Tx,
        decision: Decision,
        data: dict[str, Any],
        event_id: str,
        now: float,
        *,
        settling: bool,
        settled_phase: bool,
    ) -> Decision:
        """Drop the matches that lose to a first response, a re-entry limit or a closed wait,
        recording why; the others may fire (entries are recorded as they do)."""
        if not self._gated or not any(m["rule"] in self._gated for m in decision.matched):
            return decision
        matched: list[MatchedRule] = []
        unmatched = list(decision.unmatched)
        for match in decision.matched:
            served = (match["wait_for_settled"] and settling) == settled_phase
            rule = self.rules.get(match["rule"])
            reason = None
            if served and rule is not None and rule.id in self._gated:
                reason = self._gate(tx, rule, data, event_id, now)
            if reason is None:
                matched.append(match)
            else:
                unmatched.append(UnmatchedRule(rule=match["rule"], reason=reason))
        return Decision(matched, unmatched)

    def _gate(
        self, tx: Tx, rule: RuleSettings, data: dict[str, Any], event_id: str, now: float
    ) -> str | None:
        recipient = recipient_key(data) or f"anonymous:{event_id}"
        send = send_of(data)
        keys: list[tuple[str, float | None, str]] = []
        if rule.group:
            keys.append((f"group:{rule.group}:{recipient}:{send.kind}:{send.id}", None, "group"))
        if rule.once_per != "event":
            keys.append((once_key(rule, recipient, data), rule.reenter_after, "once"))
        for key, window, kind in keys:
            holder = tx.entry_holder(key, event_id, now, window)
            if holder is not None:
                return lost_reason(rule, kind, holder)
        if rule.trigger == "wait" and data.get("scenario") is None:
            message_id, campaign_id = message_ids(data)
            clicked_at = _epoch(data.get("occurred_at")) or now
            resolved = tx.resolve_wait(rule.id, recipient, message_id, clicked_at, now, campaign_id)
            if resolved is None:
                return no_wait(tx, rule, recipient, message_id, event_id, clicked_at, now)
        for key, _window, _kind in keys:
            tx.record_entry(key, rule.id, event_id, now)
        return None


def new_check(
    rule: RuleSettings, send: SendKey, due_at: float, origin: str, now: float
) -> TimerRecord:
    """A check of a `clicked_by` or `not_clicked` rule over a whole send."""
    make_id = config_check_id if origin == "config" else api_check_id
    kind = cast(TimerKind, rule.trigger)
    return TimerRecord(
        make_id(rule.id, send, due_at), rule.id, kind, send, None, due_at, origin, now
    )


def send_key(send: Any) -> SendKey:
    """A rule's `send` (or none: every send) as a storage key."""
    if send is None:
        return SendKey("all", "")
    if send.campaign_id is not None:
        return SendKey("campaign", send.campaign_id)
    return SendKey("message", send.message_id or "")


def _starts_on_delivery(rule: RuleSettings) -> bool:
    return rule.trigger == "wait" or (rule.trigger == "not_clicked" and rule.after is not None)


def starts_for(
    rule: RuleSettings, status: str, message_id: str, campaign_id: str, test: bool = False
) -> bool:
    """Whether a delivery (or send, or registration) of this message starts `rule`'s timer
    (an ESP's test send starts nothing unless the rule includes test sends)."""
    if not _starts_on_delivery(rule) or (test and not rule.include_test_sends):
        return False
    if status == "sent" and not (rule.trigger == "not_clicked" and rule.audience == "sent"):
        # a wait, or a check on delivered recipients, starts when the message is delivered
        return False
    send = rule.send
    if send is None:
        return True
    return (
        send.message_id == message_id
        if send.message_id is not None
        else send.campaign_id == campaign_id
    )


def _delivery_timer(
    rule: RuleSettings, send: SendKey, recipient: str, at: float, who: bytes, now: float
) -> TimerRecord:
    """The wait or check one delivery starts: of its message, or of its campaign when the
    recipients were registered for a campaign without message ids (any of its messages)."""
    delay = rule.timeout if rule.trigger == "wait" else rule.after
    named = send.id if send.kind == "message" else f"campaign\x1f{send.id}"
    return TimerRecord(
        id=delivery_timer_id(rule.id, named, recipient),
        rule_id=rule.id,
        kind="wait" if rule.trigger == "wait" else "not_clicked",
        send=send,
        recipient=recipient,
        due_at=at + (delay or 0.0),
        origin="delivery",
        created_at=now,
        data=who,
        started_at=at,
    )


def _started(data: dict[str, Any]) -> SendKey:
    """What a delivery's timers are about: its message, else its campaign."""
    message_id, campaign_id = message_ids(data)
    if message_id or not campaign_id:
        return SendKey("message", message_id)
    return SendKey("campaign", campaign_id)


def _click(
    data: dict[str, Any], recipient: str, suspected: bool, settle_at: float | None
) -> ClickRecord:
    link = data.get("link") or {}
    url = link.get("url")
    canonical = link.get("canonical")
    kind = classify_link(url) if isinstance(url, str) else "invalid"
    message_id, campaign_id = message_ids(data)
    return ClickRecord(
        event_id=data["id"],
        recipient=recipient,
        message_id=message_id,
        campaign_id=campaign_id,
        canonical=canonical if isinstance(canonical, str) else "",
        system=kind in SYSTEM_LINK_KINDS,
        test=bool(data.get("test")),
        occurred_at=_epoch(data.get("occurred_at")) or 0.0,
        suspected=suspected,
        settled=settle_at is None,
        settle_at=settle_at,
    )


def _epoch(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None
