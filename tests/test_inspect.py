"""`connector inspect`: a captured request replayed step by step, judged at its `received_at`."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.capture import capture_document
from connector.cli import main
from providers.base import WebhookRequest
from tests.support.fixtures import cases

CIO = {case.name: case for case in cases("customerio")}["click"]
SES = {case.name: case for case in cases("amazon_ses")}["click"]
BASIC_PASSWORD = "hook-s3cret-pass"
CONFIG = f"""
[storage]
url = "sqlite:///unused.db"

[bots]
use_cloudip_package = false

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["cio_test_signing_key"]

[[sources]]
id = "acme"
provider = "generic"
basic_auth = ["hook:{BASIC_PASSWORD}"]

[sources.options]
auth = {{ type = "basic" }}
click = {{ path = "type", equals = "click" }}
fields = {{ occurred_at = "at", "link.url" = "url", provider_event_id = "id" }}

[[rules]]
id = "shop-clicks"
actions = ["downstream"]
when = {{ field = "link.host", eq = "shop.example.org" }}

[[rules]]
id = "other-clicks"
actions = ["downstream"]
when = {{ field = "link.host", eq = "elsewhere.example" }}

[[actions]]
id = "downstream"
type = "log"
"""


def _config(folder: Path, extra: str = "") -> Path:
    path = folder / "connector.toml"
    path.write_text(CONFIG + extra)
    return path


def _cio_capture(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": "cio",
        "method": "POST",
        "path": "https://hooks.example.net/webhooks/cio",
        "headers": CIO.headers,
        "body": CIO.body.decode(),
        "received_at": "2025-01-01T12:00:02Z",
        "client_ip": "203.0.113.5",
    }
    return {**document, **changes}


def _run(folder: Path, capture: dict[str, Any], *args: str, extra: str = "") -> Any:
    capture_path = folder / "request.json"
    capture_path.write_text(json.dumps(capture))
    config = _config(folder, extra)
    return CliRunner().invoke(main, ["inspect", "--config", str(config), *args, str(capture_path)])


def test_accepted_customerio_capture_shows_every_step(tmp_path: Path) -> None:
    """A genuine capture: verified by the key, normalised, routed; exit status 0."""
    result = _run(tmp_path, _cio_capture())
    assert result.exit_code == 0, result.output
    assert "1. Source: cio (provider customerio, Customer.io)" in result.output
    assert "2. Verification: OK, verified by signing_keys[0]" in result.output
    assert '"url": "https://shop.example.org/spring?utm_source=cio"' in result.output
    assert "would deliver to downstream" in result.output
    assert "not matched other-clicks: link.host eq 'elsewhere.example'" in result.output
    assert "state from the live database" in result.output
    assert "would ACCEPT: 200" in result.output


def test_json_document_for_an_accepted_capture(tmp_path: Path) -> None:
    """`--json` gives the same steps as a document a program can read."""
    result = _run(tmp_path, _cio_capture(), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["outcome"] == {
        "accepted": True,
        "status": 200,
        "reason": None,
        "message": "1 event(s), 0 ignored, 0 rejected",
    }
    assert report["verification"]["credential"] == "signing_keys[0]"
    event = report["normalisation"]["events"][0]
    assert event["provider_event_id"] == "01HZX3K9Q4V6B8N2M7R5T1W0YA"
    routed = report["routing"]["events"][0]
    assert routed["id"] == event["id"]
    assert routed["deliver_to"] == ["downstream"]
    assert routed["bot"]["phase"] == "immediate"
    assert [m["rule"] for m in routed["decision"]["matched"]] == ["shop-clicks"]


def test_tampered_capture_shows_the_reason_and_401(tmp_path: Path) -> None:
    """A changed body fails verification: the message, 401 and exit status 1."""
    body = CIO.body.decode().replace("dana", "erin")
    result = _run(tmp_path, _cio_capture(body=body))
    assert result.exit_code == 1
    assert "X-CIO-Signature does not match any signing key" in result.output
    assert "would answer 401 (signature)" in result.output
    assert "3. Normalisation" not in result.output
    report = json.loads(_run(tmp_path, _cio_capture(body=body), "--json").output)
    assert report["outcome"]["status"] == 401
    assert report["normalisation"] is None


def test_old_capture_is_judged_at_its_received_at(tmp_path: Path) -> None:
    """The replay window is measured to `received_at`, so a late arrival stays stale."""
    late = _run(tmp_path, _cio_capture(received_at="2025-01-20T12:00:00Z"), "--json")
    assert late.exit_code == 1
    report = json.loads(late.output)
    assert report["verification"]["error"] == "timestamp outside the tolerance window"
    assert report["outcome"]["reason"] == "stale"


def test_unknown_source_is_a_404(tmp_path: Path) -> None:
    """A capture for a source the config lacks says so, with the service's 404."""
    result = _run(tmp_path, _cio_capture(source="nope"))
    assert result.exit_code == 1
    assert "no source 'nope' in the config" in result.output
    assert "would REFUSE: 404" in result.output


def test_capture_document_round_trips_through_inspect(tmp_path: Path) -> None:
    """What connector/capture.py saves replays as-is: same bytes, headers and time."""
    request = CIO.request()
    document = json.loads(json.dumps(capture_document(request, "replayed for the test")))
    report = json.loads(_run(tmp_path, document, "--json").output)
    assert report["request"]["received_at"] == request.received_at.isoformat()
    assert report["request"]["body_bytes"] == len(CIO.body)
    assert report["verification"]["ok"] is True
    assert report["outcome"]["accepted"] is True


def test_redacted_basic_auth_is_explained(tmp_path: Path) -> None:
    """A capture whose Authorization was redacted fails basic auth and says why."""
    body = b'{"id": "e1", "type": "click", "at": 1735732800, "url": "https://shop.example.org/"}'
    credentials = base64.b64encode(f"hook:{BASIC_PASSWORD}".encode()).decode()
    request = WebhookRequest(
        source_id="acme",
        method="POST",
        url="https://hooks.example.net/webhooks/acme",
        headers={"authorization": f"Basic {credentials}", "content-type": "application/json"},
        body=body,
        client_ip="203.0.113.5",
        received_at=datetime.fromisoformat("2025-01-01T12:00:02+00:00"),
    )
    document = capture_document(request, "ip not allowed")
    assert BASIC_PASSWORD not in json.dumps(document) and credentials not in json.dumps(document)
    result = _run(tmp_path, document)
    assert result.exit_code == 1
    assert "Verification: FAILED: missing basic auth credentials" in result.output
    assert "this capture was redacted (authorization saved as '[redacted]')" in result.output
    assert "put the real value back" in result.output
    restored = {
        **document,
        "headers": {**document["headers"], "authorization": f"Basic {credentials}"},
    }
    assert _run(tmp_path, restored).exit_code == 0


def test_sns_certificate_must_be_preloaded_and_is_never_fetched(tmp_path: Path) -> None:
    """Without a configured certificate SNS fails with a hint; with certificate_files it passes."""
    url = next(iter(SES.source().options["certificates"]))
    capture = {
        "source": "ses",
        "headers": SES.headers,
        "body": SES.body.decode(),
        "received_at": SES.manifest["received_at"],
        "client_ip": SES.manifest["client_ip"],
    }
    arn = SES.source().topic_arns[0]
    source = f'\n[[sources]]\nid = "ses"\nprovider = "amazon_ses"\ntopic_arns = ["{arn}"]\n'
    missing = _run(tmp_path, capture, "--json", extra=source)
    report = json.loads(missing.output)
    assert missing.exit_code == 1
    assert report["verification"]["error"] == "signing certificate not available"
    assert any("never fetches" in hint for hint in report["verification"]["hints"])
    pem = tmp_path / url.rsplit("/", 1)[1]
    pem.write_text(SES.source().options["certificates"][url])
    files = f'\n[sources.options]\ncertificate_files = ["{pem}"]\n'
    found = _run(tmp_path, capture, "--json", extra=source + files)
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["normalisation"]["events"][0]["type"] == "email.clicked"


def test_generic_batch_reports_ignored_and_rejected_items(tmp_path: Path) -> None:
    """Ignored types and rejected items are listed with their reasons; the request is accepted."""
    case = {c.name: c for c in cases("generic")}["batch"]
    source = json.dumps(case.manifest["source"]["options"])
    extra = (
        '\n[[sources]]\nid = "klaviyo"\nprovider = "generic"\n'
        f'signing_keys = ["{case.manifest["source"]["signing_keys"][0]}"]\n'
        f"options = {_toml_inline(json.loads(source))}\n"
    )
    capture = {
        "source": "klaviyo",
        "headers": case.headers,
        "body": case.body.decode(),
        "received_at": case.manifest["received_at"],
    }
    result = _run(tmp_path, capture, extra=extra)
    assert result.exit_code == 0, result.output
    assert "3. Normalisation: 2 event(s), 1 ignored, 1 rejected" in result.output
    assert "ignored: event:klaviyo.opened_email (acknowledged, not an error)" in result.output
    assert "rejected item 2: link.url: no URL at" in result.output


def _toml_inline(value: Any) -> str:
    """A JSON value as a TOML inline value (the fixture manifest's options)."""
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{json.dumps(k)} = {_toml_inline(v)}" for k, v in value.items())
            + " }"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_toml_inline(item) for item in value) + "]"
    return json.dumps(value)


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ({"source": "cio"}, "capture.body: must be the body"),
        (_cio_capture(received_at="last week"), "capture.received_at: must be an ISO-8601 time"),
        (_cio_capture(headers=["x"]), "capture.headers: must map header names to strings"),
        ([1, 2], "capture: expected a JSON object"),
    ],
)
def test_unusable_capture_exits_2(tmp_path: Path, capture: Any, message: str) -> None:
    """A capture that is not a request document is reported by key, with exit status 2."""
    result = _run(tmp_path, capture)
    assert result.exit_code == 2
    assert message in result.output


def test_get_is_only_a_probe(tmp_path: Path) -> None:
    """A captured GET is answered by the URL probe; nothing would be ingested (exit 1)."""
    result = _run(tmp_path, _cio_capture(method="GET"), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["outcome"]["reason"] == "probe"
