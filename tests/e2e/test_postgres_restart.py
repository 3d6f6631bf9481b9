"""A PostgreSQL restart under the service (`connector serve` and its worker, a cluster of
the test's own): while the server is down every webhook is answered a JSON 503 within an
ESP's timeout (the ESP retries), never a hang; after it is back, webhooks are accepted again
and every acknowledged click is delivered, each once."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.config import write_config
from tests.support.customerio import cio_event
from tests.support.postgres import SCRIPT, free_port
from tests.support.servers import ServiceProcess, downstream
from tests.support.signing import cio_headers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ESP_TIMEOUT = 8.0  # shorter than the pool's own 10 s wait: a hang fails the test


@pytest.fixture
def cluster() -> Iterator[tuple[str, list[str]]]:
    """(URL, the script's arguments) of a server this test may stop and start."""
    folder = tempfile.mkdtemp(prefix="connector-pg-restart-")
    port = str(free_port())
    started = subprocess.run([SCRIPT, "start", folder, port], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"no PostgreSQL server here: {started.stderr.strip()[-300:]}")
    try:
        yield started.stdout.strip().splitlines()[-1], [folder, port]
    finally:
        subprocess.run([SCRIPT, "stop", folder], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", folder], check=False)


def _post(client: httpx.Client, base: str, person: str) -> tuple[int, str, str]:
    """(status, `error` of the JSON answer, the click's event id)."""
    body = cio_event("clicked", person, time.time(), href="https://shop.example.org/r")
    answer = client.post(f"{base}/webhooks/cio", content=body, headers=cio_headers(body))
    return answer.status_code, answer.json().get("error", ""), body.decode()


def test_while_postgresql_restarts_webhooks_get_503_and_nothing_acked_is_lost(
    tmp_path: Path, cluster: tuple[str, list[str]]
) -> None:
    """3 webhooks while the server is down: 503 storage_unavailable each; 10 acked around
    the restart: 10 delivered, none twice."""
    url, (folder, port) = cluster
    with downstream() as app, httpx.Client(timeout=ESP_TIMEOUT) as client:
        config = write_config(tmp_path, app.url)
        config.write_text(config.read_text().replace(f"sqlite:///{tmp_path / 'connector.db'}", url))
        service = ServiceProcess(config, free_port()).start()
        try:
            before = [_post(client, service.url, f"b{n}") for n in range(5)]
            subprocess.run([SCRIPT, "stop", folder], check=True, capture_output=True)
            down = [_post(client, service.url, f"d{n}") for n in range(3)]
            subprocess.run([SCRIPT, "start", folder, port], check=True, capture_output=True)
            after: list[tuple[int, str, str]] = []
            for n in range(5):  # the first after the restart may still find the pool broken
                for _ in range(10):
                    answer = _post(client, service.url, f"a{n}")
                    if answer[0] == 200:
                        after.append(answer)
                        break
            acked = before + after
            received = app.wait_for(len(acked), timeout=30)
            time.sleep(1)  # nothing more may come
        finally:
            service.terminate()
    assert [(status, error) for status, error, _ in down] == [(503, "storage_unavailable")] * 3
    assert [status for status, _, _ in acked] == [200] * 10
    ids = sorted(r.json()["provider_event_id"] for r in app.received)
    assert len(received) == 10 and len(set(ids)) == len(ids) == 10
