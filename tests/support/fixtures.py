"""Loads `fixtures/<provider>/` folders: the manifest, byte-exact bodies and their headers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from providers.base import Source, WebhookRequest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
_TUPLE_FIELDS = (
    "signing_keys",
    "public_keys",
    "basic_auth",
    "bearer_tokens",
    "allowed_ips",
    "topic_arns",
)


@dataclass(frozen=True)
class Case:
    provider: str
    name: str
    body: bytes
    headers: dict[str, str]
    expected: dict[str, Any]
    manifest: dict[str, Any] = field(repr=False)

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"

    def source(self) -> Source:
        return source_from_dict(self.manifest["source"])

    def request(
        self,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        received_at: datetime | None = None,
    ) -> WebhookRequest:
        chosen = self.headers if headers is None else headers
        return WebhookRequest(
            source_id=self.manifest["source"]["id"],
            method="POST",
            url=self.manifest.get("url", "https://hooks.example.net/webhooks/x"),
            headers={key.lower(): value for key, value in chosen.items()},
            body=self.body if body is None else body,
            client_ip=self.manifest.get("client_ip", "127.0.0.1"),
            received_at=received_at or parse_time(self.manifest["received_at"]),
        )


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def source_from_dict(data: dict[str, Any]) -> Source:
    values = {key: tuple(value) if key in _TUPLE_FIELDS else value for key, value in data.items()}
    return Source(**values)


def manifest(provider: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / provider / "manifest.json").read_text())
    return loaded


def provider_folders() -> list[str]:
    return sorted(p.parent.name for p in FIXTURES.glob("*/manifest.json"))


def cases(provider: str) -> list[Case]:
    folder = FIXTURES / provider
    data = manifest(provider)
    return [
        Case(
            provider=provider,
            name=name,
            body=(folder / f"{name}.raw").read_bytes(),
            headers=json.loads((folder / f"{name}.headers.json").read_text()),
            expected=expected,
            manifest=data,
        )
        for name, expected in data["cases"].items()
    ]


def all_cases() -> list[Case]:
    return [case for provider in provider_folders() for case in cases(provider)]


def subset_mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` differs from the partial structure `expected` (empty list: it matches)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path or '.'}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            problems += subset_mismatches(value, actual.get(key), f"{path}.{key}")
        return problems
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]
