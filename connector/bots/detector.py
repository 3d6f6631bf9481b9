"""The detector the service and `connector bots evaluate` share: observe, then settle.

`observe` runs once per stored event in arrival order: deliveries are remembered, clicks
are recorded and get the immediate verdict from what had arrived by their `received_at`.
`settle` gives the settled verdict from evidence up to `settle_at(click)`: clicks that
occurred up to `settle_seconds` after this one and had arrived by then. Only event times
are used, never the wall clock, so a replay reproduces every verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

from connector.bots import behaviour, useragents
from connector.bots.ipindex import IpIndex, IpLabel, parse_ip
from connector.bots.ipranges import load_index
from connector.bots.keys import aware, epoch_seconds, link_key, message_key, recipient_key
from connector.bots.reasons import REASONS
from connector.bots.settings import BotSettings
from connector.bots.state import BotState, ClickRecord
from connector.bots.timing import timing_hit
from connector.bots.verdict import Phase, build_verdict
from schemas.events import Bot, EmailClicked, EmailDelivered

DETECTOR_VERSION = "bots-1"
_ADDRESS_CACHE = 65536
Hit = tuple[str, str]
_IP_CODES = {c: f"ip.{c}" for c in ("vendor", "crawler", "service", "cloud", "cdn")}
_ONE_BEHAVIOUR = frozenset({"burst.links", "burst.same_second", "behaviour.all_links"})
_MULTI_LINK = frozenset({"burst.links", "behaviour.all_links"})
_BOT_HINTS = frozenset(
    {"1", "true", "yes", "bot", "robot", "crawler", "spider", "prefetch", "proxy", "scanner"}
)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a click says about itself, before any other event is consulted."""

    record: ClickRecord
    own: list[Hit]  # agent, address and direct evidence (honeypot, method, ESP hint)


class Detector:
    def __init__(self, settings: BotSettings, ip_index: IpIndex | None = None) -> None:
        self.settings = settings
        self.ip_index = ip_index or load_index(settings.ip_ranges_dir, settings.use_cloudip_package)
        self._addresses: dict[str, tuple[str, str, IpLabel | None]] = {}
        self._honeypots = [re.compile(pattern) for pattern in settings.honeypot_patterns]
        self.version = f"{DETECTOR_VERSION};ip={self.ip_index.version};ua={_crawlerdetect()}"
        self._points = {code: settings.points_for(code) for code in REASONS}
        # Evidence an address/agent needs to settle which side of a pair is the scanner.
        self._weak = self._points["ip.cloud"]
        self._strong = self._points["ip.vendor"]

    @classmethod
    def from_settings(cls, settings: BotSettings) -> Detector:
        return cls(settings)

    def observe(self, event: EmailClicked | EmailDelivered, state: BotState) -> Bot | None:
        """Record the event; the immediate verdict for a click, None for a delivery."""
        if isinstance(event, EmailDelivered):
            key = message_key(event)
            if key and self.settings.enabled:
                state.record_delivery(
                    key, epoch_seconds(event.occurred_at), epoch_seconds(event.received_at)
                )
            return None
        if not self.settings.enabled:
            return self._neutral("immediate")
        facts = self._facts(event)
        state.record_click(facts.record)
        return self._assess(event, facts, state, "immediate", facts.record.received)

    def settle(self, click: EmailClicked, state: BotState) -> Bot:
        """The settled verdict, from evidence that had arrived by `settle_at(click)`."""
        if not self.settings.enabled:
            return self._neutral("settled")
        facts = self._facts(click)
        deadline = max(facts.record.occurred, facts.record.received) + self.settings.settle_seconds
        return self._assess(click, facts, state, "settled", deadline)

    def settle_at(self, click: EmailClicked) -> datetime:
        """When the settled verdict can be computed: settle_seconds after occurrence/arrival."""
        latest = max(aware(click.occurred_at), aware(click.received_at))
        try:
            return latest + timedelta(seconds=self.settings.settle_seconds)
        except OverflowError:
            return datetime.max.replace(tzinfo=UTC)

    def _neutral(self, phase: Phase) -> Bot:
        return build_verdict([], self._points, self.settings.suspect_threshold, phase, self.version)

    def _facts(self, click: EmailClicked) -> _Facts:
        occurred = epoch_seconds(click.occurred_at)
        ip, network, label = self._address(click.client.ip)
        own: list[Hit] = list(
            useragents.classify(click.client.user_agent, _current_major(click.occurred_at))
        )
        if label is not None:
            own.append((_IP_CODES[label.category], f"{ip}: {label.provider} {label.detail}"))
        points = self._points
        evidence = sum(points[code] for code, _ in own)
        own.extend(self._direct(click))
        record = ClickRecord(
            event_id=click.id,
            message_key=message_key(click),
            link_key=link_key(click),
            recipient_key=recipient_key(click),
            ip=ip,
            network=network,
            occurred=occurred,
            received=epoch_seconds(click.received_at),
            evidence=evidence,
        )
        return _Facts(record, own)

    def _address(self, raw: str | None) -> tuple[str, str, IpLabel | None]:
        """(canonical address, its /24 or /48, its range label); cached: addresses repeat."""
        if not raw:
            return "", "", None
        key = raw[:64]
        found = self._addresses.get(key)
        if found is None:
            parsed = parse_ip(raw)
            if parsed is None:
                found = ("", "", None)
            else:
                ip, network = behaviour.canonical_ip(*parsed)
                found = (ip, network, self.ip_index.lookup(ip))
            if len(self._addresses) >= _ADDRESS_CACHE:
                self._addresses.clear()
            self._addresses[key] = found
        return found

    def _direct(self, click: EmailClicked) -> list[Hit]:
        hits: list[Hit] = []
        if click.link.hidden:
            hits.append(("link.honeypot", "link is marked hidden"))
        else:
            for pattern in self._honeypots:
                if pattern.search(click.link.url):
                    hits.append(
                        ("link.honeypot", f"URL matches honeypot pattern {pattern.pattern!r}")
                    )
                    break
        method = (click.client.http_method or "").strip().upper()
        if method == "HEAD":
            hits.append(("http.head", "HEAD request"))
        elif method and method not in ("GET", "POST"):
            hits.append(("http.method", f"{method[:16]} request"))
        hint = click.metadata.get(self.settings.esp_hint_key)
        if hint is True or (
            isinstance(hint, str | int) and str(hint).strip().lower() in _BOT_HINTS
        ):
            hits.append(
                ("esp.bot_hint", f"metadata[{self.settings.esp_hint_key!r}] = {str(hint)[:40]!r}")
            )
        return hits

    def _assess(
        self, click: EmailClicked, facts: _Facts, state: BotState, phase: Phase, received_by: float
    ) -> Bot:
        s = self.settings
        record = facts.record
        hits = list(facts.own)
        end = record.occurred + s.settle_seconds
        if record.message_key:
            delivery = state.delivery(record.message_key, received_by)
            found = timing_hit(record.occurred, delivery)
            if found:
                hits.append(found)
            back = max(s.burst_window_seconds, s.pair_window_seconds, s.all_links_window_seconds)
            others = [
                other
                for other in state.message_clicks(
                    record.message_key, record.occurred - back, end, received_by
                )
                if other.event_id != record.event_id
            ]
            seen = self._behaviour(click, record, others) if others else []
            hits.extend(seen)
            if delivery and any(code in _MULTI_LINK for code, _ in seen):
                after = record.occurred - delivery.occurred
                if after <= s.at_delivery_seconds:
                    detail = f"several links by one network {max(after, 0.0):.0f} s after delivery"
                    hits.append(("behaviour.at_delivery", detail))
        if record.ip:
            window = s.fanout_window_seconds
            recipients = state.ip_recipients(
                record.ip, record.occurred - window, min(record.occurred + window, end), received_by
            )
            if recipients >= s.fanout_recipients:
                hits.append(
                    ("ip.fanout", f"{recipients} recipients from {record.ip} within {window:.0f} s")
                )
        return build_verdict(hits, self._points, s.suspect_threshold, phase, self.version)

    def _behaviour(
        self, click: EmailClicked, record: ClickRecord, others: list[ClickRecord]
    ) -> list[Hit]:
        s = self.settings
        hits = behaviour.burst_hits(record, others, s.burst_window_seconds)
        every = behaviour.all_links_hit(
            record, others, click.message.link_count, s.all_links_window_seconds
        )
        if every:
            hits.append(every)
        # Bursts and "every link" describe one behaviour: only the strongest of them counts,
        # the others are kept in its detail. A sub-100 ms gap is separate, stronger evidence.
        grouped = [h for h in hits if h[0] in _ONE_BEHAVIOUR]
        if len(grouped) > 1:
            top = max(grouped, key=lambda h: self._points[h[0]])
            merged = (top[0], "; ".join([top[1], *(h[1] for h in grouped if h is not top)]))
            hits = [h for h in hits if h[0] not in _ONE_BEHAVIOUR] + [merged]
        pair = behaviour.pair_hit(record, others, s.pair_window_seconds, self._weak, self._strong)
        return [*hits, pair] if pair else hits


def _current_major(moment: datetime) -> int:
    return useragents.expected_major(moment)


def _crawlerdetect() -> str:
    try:
        return f"crawlerdetect-{version('crawlerdetect')}"
    except PackageNotFoundError:
        return "crawlerdetect"
