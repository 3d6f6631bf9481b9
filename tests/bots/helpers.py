"""Builders for bot-detection tests: events, a small fixed IP index, a scripted message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from connector.bots.detector import Detector
from connector.bots.ipindex import IpIndex, IpLabel
from connector.bots.settings import BotSettings
from connector.bots.state import BotState, MemoryState
from schemas.events import Bot, EmailClicked, EmailDelivered

T0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/152.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 26_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1"
)
SCANNER_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/101.0.4951.54 Safari/537.36"
)

# A fixed index so signal tests do not depend on the shipped data's version.
RESIDENTIAL = "203.0.113.10"  # TEST-NET-3: in no list, like a home connection
RESIDENTIAL_2 = "198.51.100.20"
CLOUD = "192.0.2.10"
CLOUD_2 = "192.0.2.200"
VENDOR = "100.64.1.10"
CRAWLER = "100.65.0.10"
SERVICE = "100.66.0.10"
CDN = "100.67.0.10"
TEST_INDEX = IpIndex(
    [
        ("192.0.2.0/24", IpLabel("cloud", "testcloud", "region-1")),
        ("100.64.0.0/16", IpLabel("vendor", "testgateway", "scanners")),
        ("100.65.0.0/16", IpLabel("crawler", "testsearch", "crawler list")),
        ("100.66.0.0/16", IpLabel("service", "testprovider", "own services")),
        ("100.67.0.0/16", IpLabel("cdn", "testcdn", "edge")),
    ],
    version="test",
)

_ids = count()


def detector(**overrides: Any) -> Detector:
    return Detector(BotSettings(use_cloudip_package=False, **overrides), ip_index=TEST_INDEX)


def delivered(
    message: str = "m1", at: datetime = T0, lag: float = 1.0, **extra: Any
) -> EmailDelivered:
    number = next(_ids)
    return EmailDelivered(
        id=f"d{number}",
        provider_event_id=f"d{number}",
        provider="sendgrid",
        source="sg",
        occurred_at=at,
        received_at=at + timedelta(seconds=lag),
        recipient={"email": extra.pop("recipient", "ann@firm.example")},
        message={"id": message, **extra},
    )


def clicked(
    after: float,
    *,
    message: str = "m1",
    link: int | None = 0,
    url: str | None = None,
    ip: str | None = RESIDENTIAL,
    agent: str | None = CHROME,
    lag: float = 1.0,
    recipient: str = "ann@firm.example",
    link_count: int | None = None,
    campaign: str | None = None,
    hidden: bool | None = None,
    method: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> EmailClicked:
    """A click `after` seconds after T0 (deliveries default to T0)."""
    number = next(_ids)
    at = T0 + timedelta(seconds=after)
    return EmailClicked(
        id=f"c{number}",
        provider_event_id=f"c{number}",
        provider="sendgrid",
        source="sg",
        occurred_at=at,
        received_at=at + timedelta(seconds=lag),
        recipient={"email": recipient},
        message={"id": message, "link_count": link_count, "campaign_id": campaign},
        link={
            "url": url or f"https://sender.example/l{link}",
            "position": link,
            "hidden": hidden,
        },
        client={"ip": ip, "user_agent": agent, "http_method": method},
        metadata=metadata or {},
    )


@dataclass
class Replay:
    """Feeds events in arrival order and settles every click at the end."""

    detector: Detector
    state: BotState = field(default_factory=MemoryState)
    immediate: dict[str, Bot] = field(default_factory=dict)

    def feed(self, *events: EmailClicked | EmailDelivered) -> Replay:
        for event in sorted(events, key=lambda e: e.received_at):
            verdict = self.detector.observe(event, self.state)
            if verdict is not None:
                self.immediate[event.id] = verdict
        return self

    def settled(self, click: EmailClicked) -> Bot:
        return self.detector.settle(click, self.state)


def codes(bot: Bot) -> set[str]:
    return {reason.code for reason in bot.reasons}
