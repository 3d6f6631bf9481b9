"""Signed Customer.io reporting webhooks for any person, message and time (e2e scenarios)."""

from __future__ import annotations

import itertools
import json
import zlib

import httpx

from tests.support.signing import cio_headers

_SERIAL = itertools.count(1)


def cio_event(
    metric: str,
    person: str,
    timestamp: float,
    *,
    campaign: int = 42,
    href: str | None = None,
    message: str | None = None,
) -> bytes:
    """One `email` webhook (`delivered`, `sent` or `clicked`) for `person@example.org`."""
    data: dict[str, object] = {
        "customer_id": person,
        "identifiers": {"id": person, "email": f"{person}@example.org"},
        "delivery_id": message or f"dlv-{person}-{campaign}",
        "campaign_id": campaign,
        "action_id": 97,
        "recipient": f"{person}@example.org",
        "subject": "Spring picks",
    }
    if href is not None:
        data["href"] = href
        data["link_id"] = zlib.crc32(href.encode()) % 10_000  # one id per link, as Customer.io
    body = {
        "event_id": f"e2e-{metric}-{person}-{next(_SERIAL)}",
        "object_type": "email",
        "metric": metric,
        "timestamp": int(timestamp),
        "data": data,
    }
    return json.dumps(body).encode()


def post(base: str, body: bytes, source: str = "cio") -> httpx.Response:
    return httpx.post(f"{base}/webhooks/{source}", content=body, headers=cio_headers(body))
