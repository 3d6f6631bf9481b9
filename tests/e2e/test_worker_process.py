"""`connector serve` with its worker process, and `connector worker` on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.config import write_config
from tests.support.fixtures import FIXTURES
from tests.support.servers import ServiceProcess, alive, child_pids, downstream, free_port
from tests.support.signing import cio_headers

pytestmark = pytest.mark.e2e
CLICK = (FIXTURES / "customerio" / "click.raw").read_bytes()


def _metric(base: str, name: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait_for_metric(base: str, name: str, value: float, timeout: float = 10.0) -> float:
    deadline = time.monotonic() + timeout
    while (found := _metric(base, name)) < value and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_worker_process_delivers_and_reports_metrics_through_the_web_process(
    tmp_path: Path,
) -> None:
    """mode = "process": the web process stores, its worker delivers; one /metrics shows both."""
    with downstream() as app:
        config = write_config(tmp_path, app.url, extra='\n[worker]\nmode = "process"\n')
        service = ServiceProcess(config, free_port()).start()
        try:
            ready = httpx.get(f"{service.url}/readyz", timeout=5).json()
            response = httpx.post(
                f"{service.url}/webhooks/cio", content=CLICK, headers=cio_headers(CLICK)
            )
            received = app.wait_for(1, timeout=15)
            delivered = _wait_for_metric(
                service.url, 'connector_deliveries_delivered_total{action="downstream"}', 1
            )
            accepted = _metric(
                service.url, 'connector_webhooks_total{outcome="accepted",source="cio"}'
            )
        finally:
            service.terminate()
    assert ready == {"ok": True, "database": True, "worker": True}
    assert response.status_code == 200
    assert received[0].json()["type"] == "email.clicked"
    assert delivered == 1.0
    assert accepted == 1.0


def test_external_worker_mode_serves_without_a_worker_and_a_separate_worker_delivers(
    tmp_path: Path,
) -> None:
    """mode = "external": events wait in the inbox until `connector worker` runs."""
    with downstream() as app:
        config = write_config(tmp_path, app.url, extra='\n[worker]\nmode = "external"\n')
        service = ServiceProcess(config, free_port()).start()
        worker: subprocess.Popen[bytes] | None = None
        try:
            assert "worker" not in httpx.get(f"{service.url}/readyz", timeout=5).json()
            httpx.post(f"{service.url}/webhooks/cio", content=CLICK, headers=cio_headers(CLICK))
            time.sleep(1.0)
            assert app.received == []  # nobody routes yet: the event waits, stored
            worker = subprocess.Popen(
                [sys.executable, "-m", "connector", "worker", "--config", str(config)]
            )
            received = app.wait_for(1, timeout=15)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=15)
            service.terminate()
    assert len(received) == 1
    assert worker.returncode == 0


def test_worker_exits_when_the_serve_process_that_started_it_is_gone(tmp_path: Path) -> None:
    """An orphaned worker (its `connector serve` was killed) stops by itself."""
    config = write_config(tmp_path, "http://127.0.0.1:9/unused")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "connector", "worker", "--config", str(config), "--parent-pid", "1"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert b"worker.parent_gone" in result.stderr
    assert time.monotonic() - started < 20


def test_a_killed_worker_is_restarted_and_the_stored_event_still_delivered(
    tmp_path: Path,
) -> None:
    """kill -9 of the worker process: serve starts another, which delivers what was stored."""
    downstream_port = free_port()
    config = write_config(
        tmp_path,
        f"http://127.0.0.1:{downstream_port}/hook",
        extra='\n[worker]\nmode = "process"\n',
    )
    service = ServiceProcess(config, free_port()).start()
    try:
        assert service.process is not None
        first = _worker_pid(service.process.pid)
        os.kill(first, signal.SIGKILL)
        response = httpx.post(
            f"{service.url}/webhooks/cio", content=CLICK, headers=cio_headers(CLICK)
        )
        with downstream(port=downstream_port) as app:
            received = app.wait_for(1, timeout=30)
        second = _worker_pid(service.process.pid)
    finally:
        service.terminate()
    assert response.status_code == 200
    assert received[0].json()["provider_event_id"] == "01HZX3K9Q4V6B8N2M7R5T1W0YA"
    assert second != first


def _worker_pid(serve_pid: int, timeout: float = 15.0) -> int:
    """The worker process `connector serve` runs (its only child), once it is up."""
    children = Path(f"/proc/{serve_pid}/task/{serve_pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children.read_text().split()
        if found:
            return int(found[0])
        time.sleep(0.05)
    raise AssertionError("no worker process")


def test_the_web_process_wakes_its_worker_instead_of_waiting_for_a_poll(tmp_path: Path) -> None:
    """With a 10 s poll, a click still reaches downstream within seconds: the pipe woke it."""
    with downstream() as app:
        config = write_config(
            tmp_path, app.url, extra='\n[worker]\nmode = "process"\npoll_seconds = 10\n'
        )
        service = ServiceProcess(config, free_port()).start()
        try:
            time.sleep(3.0)  # the worker has started and made its first poll
            sent = time.monotonic()
            httpx.post(f"{service.url}/webhooks/cio", content=CLICK, headers=cio_headers(CLICK))
            received = app.wait_for(1, timeout=8)
            took = time.monotonic() - sent
        finally:
            service.terminate()
    assert len(received) == 1
    assert took < 5  # a poll would have taken up to 10 s


def test_a_worker_whose_serve_was_killed_exits(tmp_path: Path) -> None:
    """kill -9 of `connector serve`: its worker sees the wake pipe close and its parent gone,
    and exits within seconds instead of running on (or spinning on the closed pipe)."""
    with downstream() as app:
        config = write_config(tmp_path, app.url, extra='\n[worker]\nmode = "process"\n')
        service = ServiceProcess(config, free_port()).start()
        try:
            assert service.process is not None
            deadline = time.monotonic() + 10
            while not (workers := child_pids(service.process.pid)) and time.monotonic() < deadline:
                time.sleep(0.1)
            service.kill9()
            deadline = time.monotonic() + 8
            while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = [pid for pid in workers if alive(pid)]
        finally:
            service.terminate()
    assert workers
    assert not left
