"""Debug capture: a rejected request through the real app is saved, redacted, and replayable."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient

from connector.app import create_app
from connector.cli import main
from connector.config import load_settings
from connector.settings import Settings
from tests.support.fixtures import FIXTURES
from tests.support.signing import cio_headers

CIO_KEY = "cio_test_signing_key"
BASIC_PASSWORD = "capture-basic-s3cret"
TOKEN = "capture-header-t0ken"
ACTION_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = (CIO_KEY, BASIC_PASSWORD, TOKEN, ACTION_SECRET)
GENERIC_OPTIONS = """click = { path = "type", equals = "click" }
fields = { occurred_at = "at", "link.url" = "url" }"""
CLICK = b'{"id": "e1", "type": "click", "at": 1735732800, "url": "https://shop.example.org/"}'


def _config(folder: Path, *, restrict_ips: bool = True) -> Path:
    """Three sources; with `restrict_ips` the generic ones refuse the test client's address."""
    allowed = 'allowed_ips = ["198.51.100.0/24"]' if restrict_ips else ""
    path = folder / "connector.toml"
    path.write_text(
        f"""
[server]
capture_rejected_dir = "{folder / "captures"}"

[storage]
url = "sqlite:///{folder / "connector.db"}"

[bots]
use_cloudip_package = false

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["{CIO_KEY}"]

[[sources]]
id = "acme"
provider = "generic"
basic_auth = ["hook:{BASIC_PASSWORD}"]
{allowed}
[sources.options]
{GENERIC_OPTIONS}
auth = {{ type = "basic" }}

[[sources]]
id = "tokens"
provider = "generic"
bearer_tokens = ["{TOKEN}"]
{allowed}
[sources.options]
{GENERIC_OPTIONS}
auth = {{ type = "header", header = "X-Webhook-Token" }}

[[rules]]
id = "all"
actions = ["downstream"]

[[actions]]
id = "downstream"
type = "http"
url = "http://127.0.0.1:9/unused"
allow_networks = ["127.0.0.0/8"]
secret = "{ACTION_SECRET}"
"""
    )
    return path


def _post(settings: Settings, source: str, body: bytes, headers: dict[str, str]) -> int:
    with TestClient(create_app(settings, run_background=False)) as client:
        return client.post(f"/webhooks/{source}", content=body, headers=headers).status_code


def _captures(folder: Path) -> list[Path]:
    return sorted((folder / "captures").glob("*.json"))


def _inspect(config: Path, capture: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["inspect", "--config", str(config), *args, str(capture)])


def _basic(password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"hook:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}", "Content-Type": "application/json"}


def test_rejected_request_is_saved_redacted_and_without_config_secrets(tmp_path: Path) -> None:
    """Right password, wrong address: 403, saved redacted with no secret; inspect explains it."""
    settings = load_settings(_config(tmp_path))
    assert _post(settings, "acme", CLICK, _basic(BASIC_PASSWORD)) == 403
    [saved] = _captures(tmp_path)
    text = saved.read_text()
    document = json.loads(text)
    assert document["headers"]["authorization"] == "[redacted]"
    assert document["body"] == CLICK.decode()
    assert document["rejected_because"] == "client address is not allowed"
    leaked = [secret for secret in SECRETS if secret in text]
    assert leaked == []
    assert base64.b64encode(f"hook:{BASIC_PASSWORD}".encode()).decode() not in text
    explained = _inspect(tmp_path / "connector.toml", saved)
    assert explained.exit_code == 1
    assert "FAILED: client address is not allowed; the service would answer 403" in explained.output


def test_inspect_explains_a_saved_capture(tmp_path: Path) -> None:
    """A wrong password saved by the app is replayed by inspect: 401 and the redaction noted."""
    config = _config(tmp_path, restrict_ips=False)
    assert _post(load_settings(config), "acme", CLICK, _basic("guess")) == 401
    [saved] = _captures(tmp_path)
    result = _inspect(config, saved)
    assert result.exit_code == 1
    assert "2. Verification: FAILED: missing basic auth credentials" in result.output
    assert "this capture was redacted (authorization saved as '[redacted]')" in result.output
    assert "would REFUSE: 401" in result.output


def test_tampered_signature_capture_replays_with_the_same_verdict(tmp_path: Path) -> None:
    """Signatures are kept in captures, so inspect reproduces the service's own 401 reason."""
    config = _config(tmp_path)
    body = (FIXTURES / "customerio" / "click.raw").read_bytes()
    headers = cio_headers(body)
    assert _post(load_settings(config), "cio", body.replace(b"dana", b"erin"), headers) == 401
    [saved] = _captures(tmp_path)
    assert json.loads(saved.read_text())["headers"]["x-cio-signature"] == headers["x-cio-signature"]
    report = json.loads(_inspect(config, saved, "--json").output)
    assert report["verification"]["error"] == "X-CIO-Signature does not match any signing key"
    assert report["outcome"]["status"] == 401
    assert report["verification"]["hints"] == []


def test_accepted_requests_are_not_captured(tmp_path: Path) -> None:
    """Only rejected requests are saved: a valid delivery leaves the folder empty."""
    body = (FIXTURES / "customerio" / "click.raw").read_bytes()
    assert _post(load_settings(_config(tmp_path)), "cio", body, cio_headers(body)) == 200
    assert _captures(tmp_path) == []


def test_custom_token_header_is_redacted(tmp_path: Path) -> None:
    """A token sent in a source's custom header never reaches the capture file."""
    settings = load_settings(_config(tmp_path))
    headers = {"X-Webhook-Token": TOKEN, "Content-Type": "application/json"}
    assert _post(settings, "tokens", CLICK, headers) == 403
    [saved] = _captures(tmp_path)
    assert TOKEN not in saved.read_text()
