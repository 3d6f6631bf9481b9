"""Shared fixtures for the delivery tests: a real-shaped event, settings, policy and actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import respx

from connector.delivery.policy import RetryPolicy
from connector.delivery.settings import DeliverySettings, HttpAction
from schemas.events import Bot, BotReason, Client, EmailClicked, Link, Message, Recipient

# 32 random bytes, base64: the shape Standard Webhooks libraries generate.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="
URL = "http://127.0.0.1:9/hooks/click"
LOOPBACK = "127.0.0.0/8"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# respx at the client (`_transport_for_url`): it intercepts whatever engine runs under httpx.
RESPX = respx.mock(using="httpx", assert_all_called=False)


def make_event(**overrides: Any) -> dict[str, Any]:
    """An `email.clicked` event as the pipeline hands it to delivery."""
    fields: dict[str, Any] = {
        "id": "evt_01HZX",
        "occurred_at": T0,
        "received_at": T0,
        "provider": "customerio",
        "source": "cio-prod",
        "provider_event_id": "01HZX9",
        "recipient": Recipient(email="ada@example.com", id="cust_42"),
        "message": Message(id="msg_1", campaign_id=None, subject="Spring sale"),
        "metadata": {"plan": "pro", "tags": ["a", "b"]},
        "link": Link(
            url="https://shop.example.com/p/1?utm_source=news&x=1", host="shop.example.com"
        ),
        "client": Client(user_agent="Mozilla/5.0", ip="203.0.113.7"),
        "bot": Bot(
            score=35,
            band="possible",
            reasons=[BotReason(code="ua.headless", points=35, detail="x")],
        ),
    }
    fields.update(overrides)
    return EmailClicked(**fields).model_dump(mode="json")


@pytest.fixture
def event() -> dict[str, Any]:
    return make_event()


@pytest.fixture
def settings() -> DeliverySettings:
    return DeliverySettings(
        budget_seconds=3600, initial_backoff_seconds=2, max_backoff_seconds=60, jitter_seconds=1
    )


@pytest.fixture
def policy(settings: DeliverySettings) -> RetryPolicy:
    return RetryPolicy(settings)


def http_action(**overrides: Any) -> HttpAction:
    """An http action to `URL`; tests only ever talk to 127.0.0.1, so it is allow-listed."""
    data: dict[str, Any] = {
        "id": "crm",
        "type": "http",
        "url": URL,
        "allow_networks": [LOOPBACK],
    }
    data.update(overrides)
    return HttpAction.model_validate(data)
