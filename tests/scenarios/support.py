"""Events for scenario tests, built the way adapters build them (compiled twin, encoded)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connector.storage.base import EventRecord
from providers.normalize import link_fields
from schemas.compiled import build_event, encode
from schemas.ids import event_id

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).timestamp()
SCANNER_UA = "python-requests/2.31.0"
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)


def message_of(person: str) -> str:
    return f"msg-{person}"


def event(
    kind: str,
    person: str,
    at: float,
    *,
    campaign: str = "spring",
    url: str | None = None,
    user_agent: str | None = BROWSER_UA,
    ip: str | None = "81.2.69.160",
    test: bool = False,
    serial: str = "",
) -> EventRecord:
    """`kind` for `person@example.org` in campaign `campaign` at Unix time `at`."""
    provider_event_id = f"{kind}:{person}:{url}:{at}:{serial}"
    fields: dict[str, Any] = {
        "id": event_id("test", provider_event_id),
        "occurred_at": datetime.fromtimestamp(at, UTC),
        "received_at": datetime.fromtimestamp(at + 1, UTC),
        "provider": "test",
        "source": "esp",
        "provider_event_id": provider_event_id,
        "recipient": {"email": f"{person}@example.org", "id": None},
        "message": {"id": message_of(person), "campaign_id": campaign, "link_count": 4},
        "test": test,
    }
    if kind == "email.clicked":
        fields["link"] = link_fields(url or "https://shop.example.org/pricing")
        fields["client"] = {"user_agent": user_agent, "ip": ip}
    built = build_event(kind, fields)
    return EventRecord(
        id=built.id,
        type=built.type,
        source="esp",
        provider="test",
        occurred_at=at,
        received_at=at + 1,
        payload=encode(built),
        raw=b"{}",
    )
