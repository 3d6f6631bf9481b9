"""`uvicorn connector.asgi:app` with `CONNECTOR_CONFIG`: the same service as `connector serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.config import write_config
from tests.support.fixtures import FIXTURES
from tests.support.servers import downstream, free_port, wait_healthy
from tests.support.signing import cio_headers

pytestmark = pytest.mark.e2e
CLICK = (FIXTURES / "customerio" / "click.raw").read_bytes()


def test_uvicorn_serves_the_importable_app(tmp_path: Path) -> None:
    with downstream() as app:
        config = write_config(tmp_path, app.url)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "connector.asgi:app", "--port", str(port)],
            env={**os.environ, "CONNECTOR_CONFIG": str(config)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base)
            answer = httpx.post(f"{base}/webhooks/cio", content=CLICK, headers=cio_headers(CLICK))
            received = app.wait_for(1, timeout=15)
        finally:
            server.terminate()
            server.wait(timeout=20)
    assert answer.status_code == 200
    assert received and received[0].json()["type"] == "email.clicked"


def test_a_bad_config_stops_the_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[server]\nport = "x"\n')
    result = subprocess.run(
        [sys.executable, "-c", "import connector.asgi"],
        env={**os.environ, "CONNECTOR_CONFIG": str(bad)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "server.port" in result.stderr
