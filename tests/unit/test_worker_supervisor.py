"""The supervisor restarts a worker that died and stops a running one."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from connector.pipeline.supervisor import WorkerSupervisor


def _supervisor(code: str) -> WorkerSupervisor:
    supervisor = WorkerSupervisor(Path("unused.toml"))
    supervisor.command = [sys.executable, "-c", code]
    return supervisor


def test_a_worker_that_dies_is_started_again() -> None:
    async def scenario() -> tuple[int, int]:
        supervisor = _supervisor("import sys; sys.exit(3)")
        supervisor.start()
        first = supervisor.process
        assert first is not None
        await asyncio.sleep(2.5)  # one check after a second, then a one-second pause
        second = supervisor.process
        assert second is not None
        await supervisor.stop()
        return first.pid, second.pid

    first, second = asyncio.run(scenario())
    assert first != second


def test_stop_ends_a_running_worker() -> None:
    async def scenario() -> int | None:
        supervisor = _supervisor("import time; time.sleep(60)")
        supervisor.start()
        assert supervisor.alive
        await supervisor.stop()
        assert not supervisor.alive
        return supervisor.process.returncode if supervisor.process else None

    assert asyncio.run(scenario()) == -15  # SIGTERM


def test_the_worker_has_its_own_process_group_in_our_session() -> None:
    """Its own group keeps a terminal's Ctrl-C for `connector serve`; the same session keeps
    it in our autogroup, where its nice gives CPU back to the web process (a new session is
    a scheduling group of its own that gets half the core whatever its nice)."""

    async def scenario() -> tuple[int, int]:
        supervisor = _supervisor("import time; time.sleep(60)")
        supervisor.start()
        assert supervisor.process is not None
        pid = supervisor.process.pid
        ids = os.getpgid(pid), os.getsid(pid)
        await supervisor.stop()
        return ids

    group, session = asyncio.run(scenario())
    assert group != os.getpgid(0)
    assert session == os.getsid(0)
