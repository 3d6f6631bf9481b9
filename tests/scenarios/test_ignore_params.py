"""`[canonical] ignore_params`: extra tracking parameters dropped from link.canonical at ingest
and from the rules' link patterns alike."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from connector.app import create_app
from connector.config import parse_settings
from connector.rules.engine import RuleSet
from tests.support.config import CIO_KEY
from tests.support.customerio import cio_event
from tests.support.signing import cio_headers


def _settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return parse_settings(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'l.db'}"},
            "canonical": {"ignore_params": ["Ref", "src"]},
            "sources": [{"id": "cio", "provider": "customerio", "signing_keys": [CIO_KEY]}],
            "rules": [
                {
                    "id": "p",
                    "links": ["https://shop.example.org/p?ref=abc&size=m"],
                    "actions": ["log"],
                }
            ],
            "actions": [{"id": "log", "type": "log"}],
        },
        env={},
    )


def test_extra_params_leave_the_canonical_form_and_the_patterns(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    url = "https://shop.example.org/p?size=m&REF=newsletter&src=x&utm_source=cio"
    body = cio_event("clicked", "ann", 1_700_000_000, href=url)
    app = create_app(settings, run_background=False)
    with TestClient(app) as client:
        answer = client.post("/webhooks/cio", content=body, headers=cio_headers(body))
        event_id = answer.json()
        store = app.state.services.store
        rows = store.transaction_sync(lambda tx: tx.list_events(limit=1))
    assert event_id["accepted"] == 1
    event = rows[0]["event"]
    assert event["link"]["url"] == url  # as sent
    assert event["link"]["canonical"] == "https://shop.example.org/p?size=m"
    decision = RuleSet.from_settings(settings.rules).decide(event)
    assert [m["rule"] for m in decision.matched] == ["p"]
