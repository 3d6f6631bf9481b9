"""Property: arbitrary events never make the detector raise, and scores stay within 0..100."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.bots.state import MemoryState
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState
from schemas.events import EmailClicked, EmailDelivered
from tests.bots.helpers import CLOUD, SCANNER_CHROME, VENDOR, detector

DETECTOR = detector(honeypot_patterns=[r"/trap", r"(?i)hidden"])
texts = st.text(max_size=40)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 2))
ips = st.one_of(st.none(), texts, st.ip_addresses().map(str), st.sampled_from([CLOUD, VENDOR]))
agents = st.one_of(st.none(), texts, st.sampled_from(["", SCANNER_CHROME, "python-requests/2"]))
hints = st.one_of(st.none(), st.booleans(), st.integers(), texts, st.lists(st.integers()))


@st.composite
def events(draw: st.DrawFn) -> EmailClicked | EmailDelivered:
    occurred = draw(moments)
    common = {
        "id": draw(st.text(min_size=1, max_size=8)),
        "provider": draw(st.sampled_from(["sendgrid", "mailgun"])),
        "source": "s",
        "provider_event_id": "p",
        "occurred_at": occurred,
        "received_at": draw(moments),
        "recipient": {"email": draw(st.none() | texts), "id": draw(st.none() | texts)},
        "message": {
            "id": draw(st.none() | st.sampled_from(["m1", "m2"])),
            "campaign_id": draw(st.none() | texts),
            "link_count": draw(st.none() | st.integers(-5, 50)),
        },
        "metadata": {"esp_bot_hint": draw(hints)},
    }
    if draw(st.booleans()):
        return EmailDelivered(**common)
    return EmailClicked(
        **common,
        link={
            "url": draw(st.sampled_from(["https://x.example/a", "https://x.example/trap"]) | texts),
            "position": draw(st.none() | st.integers(-3, 10)),
            "id": draw(st.none() | texts),
            "hidden": draw(st.none() | st.booleans()),
        },
        client={
            "ip": draw(ips),
            "user_agent": draw(agents),
            "http_method": draw(st.none() | st.sampled_from(["GET", "HEAD", "post", ""]) | texts),
        },
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), max_size=12))
def test_any_events_give_valid_verdicts(batch: list[EmailClicked | EmailDelivered]) -> None:
    """Whatever arrives, observe/settle return bounded scores and memory and SQLite agree."""
    memory = MemoryState()
    conn = sqlite3.connect(":memory:")
    conn.executescript(SQLITE_SCHEMA)
    stored = SqliteState(conn)
    for event in batch:
        first = DETECTOR.observe(event, memory)
        second = DETECTOR.observe(event, stored)
        assert first == second
        if isinstance(event, EmailClicked):
            assert first is not None and 0 <= first.score <= 100
            assert DETECTOR.settle_at(event).tzinfo is not None
    for event in batch:
        if isinstance(event, EmailClicked):
            settled = DETECTOR.settle(event, memory)
            assert settled == DETECTOR.settle(event, stored)
            assert 0 <= settled.score <= 100 and settled.phase == "settled"
    memory.prune(0.0)
    stored.prune(0.0)
    conn.close()
