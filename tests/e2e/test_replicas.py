"""The replica drill: two `connector serve` replicas (each with its worker process) on one
PostgreSQL database, signed clicks streamed to both, one killed with `kill -9` mid-stream
and restarted. Every acknowledged click is delivered, each as one event."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.config import write_config
from tests.support.customerio import cio_event
from tests.support.postgres import fresh_database, running_server
from tests.support.servers import (
    Downstream,
    ServiceProcess,
    child_pids,
    downstream,
    free_port,
)
from tests.support.signing import cio_headers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CLICKS = 240


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with running_server() as server, fresh_database(server) as url:
        yield url


def _kill_replica(replica: ServiceProcess) -> None:
    """`kill -9` the web process and its worker at once, as a lost machine would."""
    assert replica.process is not None
    for child in child_pids(replica.process.pid):
        os.kill(child, signal.SIGKILL)
    replica.kill9()


class Stream:
    """Posts the clicks to the replicas in turn; a refused post goes to the other one, as an
    ESP retries; every 10th click is posted again to the other replica (a retry that lands
    elsewhere). Records which clicks were acknowledged."""

    def __init__(self, replicas: list[ServiceProcess]) -> None:
        self.replicas = replicas
        self.acked: set[str] = set()
        self.down: set[int] = set()
        self.duplicates_acked = 0

    def run(self) -> None:
        now = time.time()
        for n in range(CLICKS):
            body = cio_event("clicked", f"p{n:03d}", now, href="https://shop.example.org/x")
            first = n % 2
            if self._post(body, [first, 1 - first]) and n % 10 == 0:
                self._post(body, [1 - first, first], duplicate=True)
            time.sleep(0.01)

    def _post(self, body: bytes, order: list[int], duplicate: bool = False) -> bool:
        for index in order:
            if index in self.down:
                continue
            try:
                answer = httpx.post(
                    f"{self.replicas[index].url}/webhooks/cio",
                    content=body,
                    headers=cio_headers(body),
                    timeout=5,
                )
            except httpx.TransportError:
                continue
            if answer.status_code == 200:
                if duplicate:
                    self.duplicates_acked += answer.json()["duplicates"]
                else:
                    self.acked.add(_event_id_of(body))
                return True
        return False


def _event_id_of(body: bytes) -> str:
    import json

    return str(json.loads(body)["event_id"])


def _delivered(app: Downstream) -> dict[str, set[str]]:
    """provider event id -> the webhook-ids it was delivered under."""
    seen: dict[str, set[str]] = {}
    for request in list(app.received):
        event = request.json()
        seen.setdefault(event["provider_event_id"], set()).add(request.headers["webhook-id"])
    return seen


def test_two_replicas_survive_a_kill_9_mid_stream(tmp_path: Path, pg_database: str) -> None:
    extra = """
[worker]
mode = "process"
delivery_lease_seconds = 3
"""
    with downstream() as app:
        config = write_config(tmp_path, app.url, extra=extra)
        text = config.read_text().replace(
            f'url = "sqlite:///{tmp_path / "connector.db"}"', f'url = "{pg_database}"'
        )
        text = text.replace("[delivery]\n", "[delivery]\nbatch_size = 10\n", 1)
        config.write_text(text)
        replicas = [ServiceProcess(config, free_port()).start() for _ in range(2)]
        stream = Stream(replicas)
        sender = threading.Thread(target=stream.run)
        try:
            sender.start()
            time.sleep(0.8)
            _kill_replica(replicas[0])
            stream.down.add(0)
            time.sleep(1.0)
            replicas[0] = ServiceProcess(config, replicas[0].port).start()
            stream.down.discard(0)
            sender.join(timeout=60)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not stream.acked <= set(_delivered(app)):
                time.sleep(0.2)
            time.sleep(1.0)
        finally:
            for replica in replicas:
                replica.terminate()
        delivered = _delivered(app)
        received = len(app.received)
    assert len(stream.acked) >= CLICKS - 5  # only clicks in flight at the kill may be lost
    missing = stream.acked - set(delivered)
    assert not missing, f"{len(missing)} acknowledged clicks never delivered"
    assert stream.duplicates_acked >= CLICKS // 10 - 2  # a retry on another replica dedups
    assert all(len(ids) == 1 for ids in delivered.values())  # one event, one delivery id
    # a delivery in flight at the kill is retried under the same webhook-id after its lease
    assert received - len(delivered) <= 10
