"""`POST /webhooks/{source_id}` skips Starlette's layers; every other request still takes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from connector.app import _webhook_source, create_app
from connector.config import parse_settings
from providers import customerio
from providers.base import Source
from providers.signing import basic_authorization
from tests.support.fixtures import cases, parse_time

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = parse_settings(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'route.db'}"},
            "sources": [{"id": "cio", "provider": "customerio", "signing_keys": ["k"]}],
        },
        {},
    )
    with TestClient(create_app(settings, run_background=False)) as test_client:
        yield test_client


def test_the_fast_path_answers_like_the_route_did(client: TestClient) -> None:
    unsigned = client.post("/webhooks/cio", content=b"{}")
    assert unsigned.status_code == 401 and unsigned.json()["ok"] is False
    assert unsigned.headers["x-request-id"]
    unknown = client.post("/webhooks/nope", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["ok"] is False


def test_a_signed_sample_is_stored_through_the_fast_path(client: TestClient) -> None:
    body = (ROOT / "fixtures/customerio/click.raw").read_bytes()
    source = Source(id="cio", provider="customerio", signing_keys=("k",))
    headers = customerio.sign(body, source, datetime.now(UTC))
    answer = client.post("/webhooks/cio", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    again = client.post("/webhooks/cio", content=body, headers=headers)
    assert again.json()["duplicates"] == 1


def test_other_requests_still_take_the_router(client: TestClient) -> None:
    assert client.get("/webhooks/cio").json() == {"ok": True}  # the probe route
    assert client.post("/webhooks/cio/extra", content=b"{}").status_code == 404
    assert client.put("/webhooks/cio", content=b"{}").status_code == 405
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/webhooks/cio", "", "cio"),
        ("/base/webhooks/cio", "/base", "cio"),
        ("/webhooks/", "", None),
        ("/webhooks/a/b", "", None),
        ("/webhooksx/a", "", None),
        ("/other", "", None),
    ],
)
def test_which_paths_are_webhooks(path: str, root: str, expected: str | None) -> None:
    assert _webhook_source({"path": path, "root_path": root}) == expected


SES_CLICK = next(case for case in cases("amazon_ses") if case.name == "click")
SES_PAIR = "sns:correct-horse"


@pytest.fixture
def ses_client(tmp_path: Path) -> Iterator[TestClient]:
    source = {**SES_CLICK.manifest["source"], "basic_auth": [SES_PAIR]}
    settings = parse_settings(
        {"storage": {"url": f"sqlite:///{tmp_path / 'ses.db'}"}, "sources": [source]}, {}
    )
    received_at = parse_time(SES_CLICK.manifest["received_at"])
    app = create_app(settings, run_background=False, clock=lambda: received_at)
    with TestClient(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        (basic_authorization("sns:wrong-pass"), 401),
        ("Basic !!!", 401),
        (basic_authorization(SES_PAIR), 200),
    ],
)
def test_ses_basic_auth_is_enforced_with_a_challenge(
    ses_client: TestClient, authorization: str | None, status: int
) -> None:
    """An SES source with basic_auth answers 401 + WWW-Authenticate (SNS's cue to send the
    credentials) without the right pair, and stores nothing; with it the click is accepted."""
    headers = dict(SES_CLICK.headers)
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = ses_client.post("/webhooks/ses", content=SES_CLICK.body, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic realm=")
        assert answer.json() == {
            "ok": False,
            "error": "signature",
            "message": answer.json()["message"],
        }
        assert "correct-horse" not in answer.text
    else:
        assert "www-authenticate" not in answer.headers
        assert answer.json()["accepted"] == 1
