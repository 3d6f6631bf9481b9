"""What a click says about itself, before any other event is consulted.

Its keys and times (the `ClickRecord` the state stores), and its own evidence: the agent,
the address's range, and direct evidence (hidden or honeypot link, HEAD, the ESP's flag).
Both passes read the same facts, so this runs twice per click: agents and addresses repeat
(a few thousand agents, gateways' address pools), so their evidence is cached per string.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from connector.bots import behaviour, useragents
from connector.bots.agent_habits import AgentHabits
from connector.bots.ipindex import IpIndex, parse_ip
from connector.bots.keys import (
    MAX_KEY,
    bounded,
    epoch_seconds,
    link_key,
    message_key,
    recipient_key,
)
from connector.bots.records import ClickRecord
from connector.bots.settings import BotSettings
from schemas.events import PURPOSE_KEY
from schemas.views import ClickView

Hit = tuple[str, str]
ADDRESS_CACHE = 65536
_IP_CODES = {c: f"ip.{c}" for c in ("vendor", "crawler", "service", "cloud", "cdn")}
_BOT_HINTS = frozenset(
    {"1", "true", "yes", "bot", "robot", "crawler", "spider", "prefetch", "proxy", "scanner"}
)
_BROWSER_METHODS = frozenset({"GET", "POST"})
_NO_ADDRESS: tuple[str, str, tuple[Hit, ...], int] = ("", "", (), 0)
_new_tuple = tuple.__new__


class Facts(NamedTuple):
    record: ClickRecord
    own: tuple[Hit, ...]  # agent, address and direct evidence, in that order
    campaign_key: str  # provider and campaign ("" without a campaign)
    crowd_key: str  # the link within its campaign, across recipients ("" without a campaign)
    points: int  # of `own`: the record's evidence, and a prefetch's


class FactReader:
    """Reads a click's facts with the detector's points, honeypots and IP index."""

    def __init__(
        self,
        settings: BotSettings,
        ip_index: IpIndex,
        points: dict[str, int],
        habits: AgentHabits | None = None,
    ) -> None:
        self.ip_index = ip_index
        self.habits = habits or AgentHabits()
        self.points = points
        self.hint_key = settings.esp_hint_key
        self.honeypots = [re.compile(pattern) for pattern in settings.honeypot_patterns]
        self._addresses: dict[str, tuple[str, str, tuple[Hit, ...], int]] = {}

    def read(self, click: ClickView) -> Facts:
        occurred_at, received_at = click.occurred_at, click.received_at
        client, link, metadata = click.client, click.link, click.metadata
        ip, network, own, evidence = self.address(client.ip)
        agent = client.user_agent
        if agent is not None:
            by_agent = useragents.classify(agent, useragents.expected_major(occurred_at))
            if by_agent:
                for code, _ in by_agent:
                    evidence += self.points[code]
                own = by_agent + own
        else:
            absent = self.habits.absent(click.source)
            if absent is not None:  # a client that sent none, where this source reports them
                evidence += self.points["ua.absent"]
                own = (("ua.absent", absent), *own)
        method = client.http_method
        prefetch = 0
        if (
            link.hidden
            or self.honeypots
            or (method and method != "GET")
            or (metadata and (metadata.get(self.hint_key) is not None or PURPOSE_KEY in metadata))
        ):
            direct = self._direct(click)
            for code, _ in direct:  # proof of automation: the sweep it belongs to shares it
                if code != "http.prefetch":  # the person's own browser, before navigating
                    evidence += self.points[code]
                else:
                    prefetch = self.points[code]
            own += direct
        link_of_message = link_key(click)
        record = _new_tuple(  # ClickRecord(...) without the Python-level __new__
            ClickRecord,
            (
                click.id,
                message_key(click),
                link_of_message,
                recipient_key(click),
                ip,
                network,
                # epoch_seconds, inlined for the common aware case
                occurred_at.timestamp()
                if occurred_at.tzinfo is not None
                else epoch_seconds(occurred_at),
                received_at.timestamp()
                if received_at.tzinfo is not None
                else epoch_seconds(received_at),
                evidence,
            ),
        )
        campaign = click.message.campaign_id  # keys.campaign_key, inlined: every click
        if campaign:
            campaign = f"{click.provider}\x1f{campaign}"
            if campaign[MAX_KEY:]:  # longer than MAX_KEY: as keys.campaign_key gives the delivery's
                campaign = bounded(campaign)
            crowd = f"{campaign}\x1f{link_of_message}"
        else:
            campaign = crowd = ""
        return _new_tuple(Facts, (record, own, campaign, crowd, evidence + prefetch))

    def address(self, raw: str | None) -> tuple[str, str, tuple[Hit, ...], int]:
        """(canonical address, its /24 or /48, its range evidence, its points); cached."""
        if not raw:
            return _NO_ADDRESS
        key = raw[:64]
        found = self._addresses.get(key)
        if found is None:
            found = self._lookup(raw)
            if len(self._addresses) >= ADDRESS_CACHE:
                self._addresses.clear()
            self._addresses[key] = found
        return found

    def _lookup(self, raw: str) -> tuple[str, str, tuple[Hit, ...], int]:
        parsed = parse_ip(raw)
        if parsed is None:
            return _NO_ADDRESS
        ip, network = behaviour.canonical_ip(*parsed)
        label = self.ip_index.lookup(ip)
        if label is None:
            return ip, network, (), 0
        code = _IP_CODES[label.category]
        return ip, network, ((code, f"{ip}: {label.provider} {label.detail}"),), self.points[code]

    def _direct(self, click: ClickView) -> tuple[Hit, ...]:
        hits: list[Hit] = []
        link = click.link
        if link.hidden:
            hits.append(("link.honeypot", "link is marked hidden"))
        else:
            for pattern in self.honeypots:
                if pattern.search(link.url):
                    hits.append(
                        ("link.honeypot", f"URL matches honeypot pattern {pattern.pattern!r}")
                    )
                    break
        method = click.client.http_method
        if method and method != "GET":
            method = method.strip().upper()
            if method == "HEAD":
                hits.append(("http.head", "HEAD request"))
            elif method and method not in _BROWSER_METHODS:
                hits.append(("http.method", f"{method[:16]} request"))
        hint = click.metadata.get(self.hint_key) if click.metadata else None
        if hint is not None and (
            hint is True
            or (isinstance(hint, str | int) and str(hint).strip().lower() in _BOT_HINTS)
        ):
            hits.append(("esp.bot_hint", f"metadata[{self.hint_key!r}] = {str(hint)[:40]!r}"))
        if click.metadata and click.metadata.get(PURPOSE_KEY) == "prefetch":
            hits.append(("http.prefetch", "prefetch request (Purpose/Sec-Purpose: prefetch)"))
        return tuple(hits)
