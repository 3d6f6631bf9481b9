"""The detector the service and `connector bots evaluate` share: observe, then settle.

`observe` runs once per stored event in arrival order: deliveries are remembered, clicks
are recorded and get the immediate verdict from what had arrived by their `received_at`.
`settle` gives the settled verdict from evidence up to `settle_at(click)`: clicks that
occurred up to `settle_seconds` after this one and had arrived by then. Only event times
are used, never the wall clock, so a replay reproduces every verdict.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import cast

from connector.bots import behaviour
from connector.bots.agent_habits import AgentHabits
from connector.bots.checkers import CheckerIndex, organisation
from connector.bots.crowd import CrowdIndex
from connector.bots.facts import FactReader, Facts
from connector.bots.ipindex import IpIndex
from connector.bots.ipranges import load_index
from connector.bots.keys import aware, campaign_key, epoch_seconds, message_key
from connector.bots.observed import MAX_PENDING, Answer, Observed, PendingClicks, fingerprint
from connector.bots.reasons import REASONS
from connector.bots.records import ClickRecord
from connector.bots.settings import BotSettings
from connector.bots.state import BotState
from connector.bots.timing import timing_hit
from connector.bots.verdict import Phase, build_verdict
from schemas.events import CLICK_TYPES, Bot
from schemas.views import ClickView, EventView

DETECTOR_VERSION = "bots-1"
Hit = tuple[str, str]
_ONE_BEHAVIOUR = frozenset(
    {"burst.links", "burst.same_second", "behaviour.all_links", "behaviour.many_links"}
)
_MULTI_LINK = frozenset({"burst.links", "behaviour.all_links", "behaviour.many_links"})
_new_tuple = tuple.__new__  # a NamedTuple without its Python-level __new__
CROWD_NEEDED = 3  # recipients clicking one campaign link within the burst window
# How long a campaign link's clicks are kept after its newest arrival: its clicks settle
# `settle_seconds` later, and some webhooks arrive minutes late.
CROWD_LAG_SECONDS = 600.0
# The campaign-wide index's questions (observed.Answer), asked again by the settled pass.
OTHERS, FIRST_DELIVERY = "others", "first delivery"
CHECKER = "checker"  # the click-time checkers index (checkers.py), asked the same way


class Detector:
    def __init__(
        self,
        settings: BotSettings,
        ip_index: IpIndex | None = None,
        *,
        pending_clicks: int = MAX_PENDING,
    ) -> None:
        """`pending_clicks`: how many observed clicks to keep for their settlement (observed.py)."""
        self.settings = settings
        self.ip_index = ip_index or load_index(settings.ip_ranges_dir, settings.use_cloudip_package)
        self.version = f"{DETECTOR_VERSION};ip={self.ip_index.version};ua={_crawlerdetect()}"
        self._points = {code: settings.points_for(code) for code in REASONS}
        self._habits = AgentHabits()  # which sources' clicks carry an agent (ua.absent)
        self._facts = FactReader(settings, self.ip_index, self._points, self._habits)
        self._proof = settings.suspect_threshold  # own evidence that flags a click by itself
        # Evidence an address/agent needs to settle which side of a pair is the scanner:
        # weak (a cloud address), strong (a vendor's), proof (flags a click by itself).
        self._pair_evidence = (self._points["ip.cloud"], self._points["ip.vendor"], self._proof)
        self._back = max(
            settings.burst_window_seconds,
            settings.pair_window_seconds,
            settings.all_links_window_seconds,
        )
        # A burst outweighs "every link" and "many links" (only the strongest of the three
        # counts), so with a burst they need not be looked for.
        self._burst_outweighs = self._points["burst.links"] >= max(
            self._points["behaviour.all_links"], self._points["behaviour.many_links"]
        )
        # The points at which no later reason can change a verdict: the score is clamped at
        # 100, less what reasons worth negative points may take away; the one that does by
        # default (guard.paired_human) needs a click without evidence of its own.
        taken = -sum(points for points in self._points.values() if points < 0)
        guard = max(0, -self._points["guard.paired_human"])
        self._saturated = (100 + taken - guard, 100 + taken)  # with evidence of its own; without
        self._pending = PendingClicks(pending_clicks)
        self._crowd = self._new_crowd()
        self._checkers = CheckerIndex()
        self._settle_delay = timedelta(seconds=settings.settle_seconds)

    @classmethod
    def from_settings(cls, settings: BotSettings) -> Detector:
        return cls(settings)

    def forget_campaigns(self) -> None:
        """Empty the campaign-wide index (crowd.py), what providers' clicks carry
        (agent_habits.py) and the click-time checkers (checkers.py): for a replay of another
        stream of events, as a restarted process starts (bench/bot_scoring.py replays one
        corpus many times with one warm detector)."""
        self._crowd = self._new_crowd()
        self._habits.clear()
        self._checkers.clear()

    def _new_crowd(self) -> CrowdIndex:
        s = self.settings
        horizon = s.settle_seconds + s.at_delivery_seconds + CROWD_LAG_SECONDS
        return CrowdIndex(s.burst_window_seconds, horizon)

    def observe(self, event: EventView, state: BotState) -> Bot | None:
        """Record the event; the immediate verdict for a click, None for a delivery.

        `event` is a model or its compiled twin (schemas/views.py): only read, never changed.
        """
        if event.type not in CLICK_TYPES:  # email.clicked, and link.clicked (trigger links)
            if not self.settings.enabled:
                return None
            occurred, received = epoch_seconds(event.occurred_at), epoch_seconds(event.received_at)
            key = message_key(event)
            if key:
                state.record_delivery(key, occurred, received)
            campaign = campaign_key(event)
            if campaign:
                self._crowd.starts.add(campaign, occurred, received)
            return None
        if not self.settings.enabled:
            return self._neutral("immediate")
        click = cast(ClickView, event)  # its type says so; the view only reads attributes
        counts = self._habits.counts.get(click.source) or self._habits.start(click.source)
        counts[click.client.user_agent is None] += 1  # AgentHabits.count, inlined: every click
        facts = self._facts.read(click)
        record = facts.record
        state.record_click(record)
        if facts.crowd_key:
            self._crowd.add(facts.crowd_key, record.occurred, record.received, record.recipient_key)
        link_count = click.message.link_count
        asked: list[Answer] = []
        hits = self._hits(facts, link_count, state, record.received, asked)
        observed = (
            fingerprint(click, self.settings.esp_hint_key),
            facts,
            state.snapshot(record.message_key, record.ip),
            tuple(hits),
            link_count,
            tuple(asked),
        )
        self._pending.remember(click.id, _new_tuple(Observed, observed))
        return self._verdict(hits, "immediate")

    def settle(self, click: ClickView, state: BotState) -> Bot:
        """The settled verdict, from evidence that had arrived by `settle_at(click)`."""
        if not self.settings.enabled:
            return self._neutral("settled")
        seen = self._pending.take(click.id)
        if seen is not None and seen.fingerprint == fingerprint(click, self.settings.esp_hint_key):
            return self._settled(seen.facts, seen.link_count, state, seen)
        return self._settled(self._facts.read(click), click.message.link_count, state, None)

    def settle_by_id(self, event_id: str, state: BotState) -> Bot | None:
        """The settled verdict of a click this detector observed, from what `observe` kept
        (see `settle`), without the click; None when it was not kept: call `settle`.

        The caller vouches that the click stored under `event_id` is the one observed, as a
        service's inbox does (it never rewrites a payload), so no fingerprint is compared.
        """
        seen = self._pending.take(event_id) if self.settings.enabled else None
        if seen is None:
            return None
        return self._settled(seen.facts, seen.link_count, state, seen)

    def _settled(
        self, facts: Facts, link_count: int | None, state: BotState, seen: Observed | None
    ) -> Bot:
        """The immediate reasons again when `seen` (what `observe` kept) says nothing changed,
        else an assessment with the evidence that had arrived by the click's settle time."""
        deadline = max(facts.record.occurred, facts.record.received) + self.settings.settle_seconds
        if (
            seen is not None
            and _unchanged(seen, state)
            # what the campaign-wide index answers by then, against the immediate pass's
            and self._same_answers(facts, seen.asked, deadline)
        ):
            return self._verdict(list(seen.hits), "settled")
        return self._verdict(self._hits(facts, link_count, state, deadline, []), "settled")

    def _same_answers(self, facts: Facts, asked: tuple[Answer, ...], by: float) -> bool:
        """The campaign-wide index (crowd.py) answers the immediate pass's questions as it
        did: other recipients on the click's link, the campaign's first delivery."""
        crowd = self._crowd
        for question, answer in asked:
            if question == OTHERS:
                if crowd.others(facts, by) != answer:
                    return False
            elif question == CHECKER:
                if self._checked_for_others(facts.record, by) != (answer is not None):
                    return False
            elif crowd.starts.first(facts.campaign_key, by) != answer:
                return False
        return True

    def settle_at(self, click: EventView) -> datetime:
        """When the settled verdict can be computed: settle_seconds after occurrence/arrival."""
        occurred, received = aware(click.occurred_at), aware(click.received_at)
        latest = received if received > occurred else occurred  # max(), as it breaks ties
        try:
            return latest + self._settle_delay
        except OverflowError:
            return datetime.max.replace(tzinfo=UTC)

    def _neutral(self, phase: Phase) -> Bot:
        return self._verdict([], phase)

    def _verdict(self, hits: list[Hit], phase: Phase) -> Bot:
        return build_verdict(
            hits, self._points, self.settings.suspect_threshold, phase, self.version
        )

    def _hits(
        self,
        facts: Facts,
        link_count: int | None,
        state: BotState,
        received_by: float,
        asked: list[Answer],
    ) -> list[Hit]:
        """Every reason for this click, from the evidence that had arrived by `received_by`,
        until nothing can change its verdict: a click whose own evidence, or that and its
        timing, scores 100 lists those reasons only (`_saturated`). What the campaign-wide
        index answered is added to `asked` (compared again by `_settled`)."""
        s = self.settings
        record = facts.record
        hits = list(facts.own)
        # the points so far, against what makes 100 whatever follows (guard.paired_human
        # takes points only from a click without evidence of its own)
        total, saturated = facts.points, self._saturated[record.evidence == 0]
        if total >= saturated:
            return hits
        occurred = record.occurred
        end = occurred + s.settle_seconds
        timing: Hit | None = None
        delivery = None
        if record.message_key:
            delivery = state.delivery(record.message_key, received_by)
            if delivery is not None:
                timing = timing_hit(occurred, delivery)
                if timing:
                    hits.append(timing)
                    total += self._points[timing[0]]
        if record.ip:
            window = s.fanout_window_seconds
            recipients = state.ip_recipients(
                record.ip, occurred - window, min(occurred + window, end), received_by
            )
            if recipients >= s.fanout_recipients:
                hits.append(
                    ("ip.fanout", f"{recipients} recipients from {record.ip} within {window:.0f} s")
                )
                total += self._points["ip.fanout"]
        if total >= saturated:
            return hits
        if record.message_key:
            others = state.message_clicks(
                record.message_key, occurred - self._back, end, received_by
            )
            try:  # the click itself, stored above; event ids are stored once, so it is the one
                others.remove(record)
            except ValueError:  # stored with other fields (observed again after a change)
                others = [other for other in others if other.event_id != record.event_id]
            if others:
                seen = self._behaviour(record, others, link_count, received_by, asked)
                hits.extend(seen)
                if any(code in _MULTI_LINK for code, _ in seen):
                    if delivery is not None:
                        after = occurred - delivery.occurred
                        if after <= s.at_delivery_seconds:
                            detail = f"several links by one network {max(after, 0.0):.0f} s"
                            hits.append(("behaviour.at_delivery", f"{detail} after delivery"))
                    elif facts.campaign_key:
                        first = self._crowd.starts.first(facts.campaign_key, received_by)
                        asked.append((FIRST_DELIVERY, first))
                        found = self._after_first_delivery(occurred, first)
                        if found:
                            hits.append(found)
                points = self._points
                for code, _ in seen:
                    total += points[code]
                if total >= saturated:
                    return hits
        if facts.crowd_key:
            crowd = self._crowd.others(facts, received_by)
            asked.append((OTHERS, crowd))
            if crowd >= CROWD_NEEDED - 1:
                window = s.burst_window_seconds
                detail = f"{crowd + 1} recipients clicked this link within {window:g} s"
                self._add_crowd(hits, detail, timing)
        return hits

    def _behaviour(
        self,
        record: ClickRecord,
        others: list[ClickRecord],
        link_count: int | None,
        received_by: float,
        asked: list[Answer],
    ) -> list[Hit]:
        s = self.settings
        network = record.network
        same_network = [o for o in others if o.network == network]
        elsewhere = len(others) - len(same_network)
        if not network and same_network:  # no addresses: checks and people look alike
            same_network = behaviour.unpaired(record, same_network, s.pair_window_seconds)
        if same_network:
            hits = behaviour.burst_hits(record, same_network, s.burst_window_seconds)
            count = len(same_network)
            # Looked for only when they can be found; a burst outweighs "every/many links".
            want_every = (count >= behaviour.MANY_LINKS - 1 or (link_count or 0) >= 3) and not (
                self._burst_outweighs and hits and hits[0][0] == "burst.links"
            )
            want_more = link_count is not None and 1 <= link_count <= count
            if want_every or want_more:
                hits.extend(self._walk_hits(record, same_network, link_count, want_every))
            proof = self._proof
            if record.evidence < proof:
                for other in same_network:  # a loop, not any(): this runs for most clicks
                    if other.evidence >= proof:
                        proven = behaviour.proven_sweep_hit(
                            record, same_network, s.pair_window_seconds, proof
                        )
                        if proven:
                            hits.append(proven)
                        break
            if len(hits) > 1:
                hits = self._strongest_behaviour(hits)
        else:
            hits = []
        if elsewhere >= behaviour.NETWORKS_NEEDED - 1:
            rotating = behaviour.networks_hit(record, others)
            if rotating:
                hits.append(rotating)
        if not record.ip:
            return hits

        def known_checker() -> bool:  # asked only for a pair whose sides are not sure
            answer = self._checked_for_others(record, received_by)
            asked.append((CHECKER, 1.0 if answer else None))
            return answer

        pair = behaviour.pair_hit(
            record, others, s.pair_window_seconds, self._pair_evidence, known_checker
        )
        if pair is None:
            return hits
        if pair[0] == "pair.check_first":  # a sure check: its address checks for this firm
            org = organisation(record.recipient_key)
            if org:
                self._checkers.note(record.ip, org, received_by)
        return [*hits, pair]

    def _checked_for_others(self, record: ClickRecord, by: float) -> bool:
        """Whether the click's address was known by `by` to check links at click time for
        organisations other than the recipient's (checkers.py)."""
        org = organisation(record.recipient_key)
        return bool(org) and self._checkers.for_others(record.ip, org, record.occurred, by)

    def _walk_hits(
        self,
        record: ClickRecord,
        same_network: list[ClickRecord],
        link_count: int | None,
        every: bool,
    ) -> list[Hit]:
        """What the walk this click belongs to shows (followed once): (nearly) every link or
        many links when `every`, more links than the message holds when it says how many."""
        links = behaviour.walk_links(record, same_network, self.settings.all_links_window_seconds)
        hits: list[Hit] = []
        found = behaviour.all_links_hit(links, link_count) if every else None
        if found:
            hits.append(found)
        if link_count is not None:
            found = behaviour.more_links_hit(links, link_count)
            if found:
                hits.append(found)
        return hits

    def _after_first_delivery(self, occurred: float, first: float | None) -> Hit | None:
        """`behaviour.at_delivery` for a multi-link visit whose message's delivered event is
        not at hand: within `at_delivery_seconds` of its campaign's `first` delivery, as no
        copy is delivered before its campaign's first ("many clicks at delivery time")."""
        limit = self.settings.at_delivery_seconds
        if first is None or not -limit <= occurred - first <= limit:
            return None
        return (
            "behaviour.at_delivery",
            f"several links by one network {max(occurred - first, 0.0):.0f} s after the"
            " campaign's first delivery (none reported for this message yet)",
        )

    def _add_crowd(self, hits: list[Hit], detail: str, timing: Hit | None) -> None:
        """`burst.recipients`, weighed against the click's evidence of coming at delivery:
        both say it came when gateways scan (a fast reader's click, a person's tabs then
        meet other recipients' scans), so only the stronger counts, the other named in its
        detail. The rival is `behaviour.at_delivery` when the visit has it, else the timing
        bucket."""
        rival = next((hit for hit in hits if hit[0] == "behaviour.at_delivery"), timing)
        if rival is None:
            hits.append(("burst.recipients", detail))
            return
        points = self._points
        at = hits.index(rival)
        if points[rival[0]] >= points["burst.recipients"]:
            hits[at] = (rival[0], f"{rival[1]}; {detail}")
        else:
            hits[at] = ("burst.recipients", f"{detail}; {rival[1]}")

    def _strongest_behaviour(self, hits: list[Hit]) -> list[Hit]:
        """Bursts and "every link" describe one behaviour: only the strongest of them counts,
        the others are kept in its detail. A sub-100 ms gap is separate, stronger evidence."""
        grouped = [h for h in hits if h[0] in _ONE_BEHAVIOUR]
        if len(grouped) < 2:
            return hits
        top = max(grouped, key=lambda h: self._points[h[0]])
        merged = (top[0], "; ".join([top[1], *(h[1] for h in grouped if h is not top)]))
        return [h for h in hits if h[0] not in _ONE_BEHAVIOUR] + [merged]


def _unchanged(seen: Observed, state: BotState) -> bool:
    """The click's message and address evidence is the very rows its immediate verdict saw
    (observed.py); the campaign-wide answers are compared by the caller."""
    record = seen.facts.record
    before = seen.snapshot
    return (
        before is not None
        and before.newest <= record.received
        and state.snapshot(record.message_key, record.ip) == before
    )


def _crawlerdetect() -> str:
    try:
        return f"crawlerdetect-{version('crawlerdetect')}"
    except PackageNotFoundError:
        return "crawlerdetect"
