"""`connector serve`'s worker process: start it, restart it if it dies, stop it last.

The web process only stores events; if the worker is down, events wait in the inbox and
nothing is lost, so a crash is logged and the worker restarted with growing pauses.
It runs in its own process group, so a Ctrl-C in the terminal reaches only `connector serve`,
which stops it after the web server has finished its in-flight requests. Not in its own
session: with the kernel's autogroup scheduling (on by default in desktop and many server
kernels) a new session is a new scheduling group that gets half the core whatever its nice,
so the worker would take from the web process the CPU its nice means to give back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import structlog

from connector.pipeline.wakeup import WakePipe

log = structlog.get_logger("connector.supervisor")
STOP_TIMEOUT_SECONDS = 30.0
MAX_PAUSE_SECONDS = 30.0


class WorkerSupervisor:
    def __init__(self, config_path: Path, nice: int = 0) -> None:
        self.pipe = WakePipe()
        self.command = [
            sys.executable,
            "-m",
            "connector",
            "worker",
            "--config",
            str(config_path),
            "--parent-pid",
            str(os.getpid()),
            "--nice",
            str(nice),
            "--wake-fd",
            str(self.pipe.read_fd),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self._watch: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New events are stored: the worker routes them now instead of at its next poll."""
        self.pipe.wake()

    def start(self) -> None:
        self.process = self._spawn()
        self._watch = asyncio.create_task(self._keep_running(), name="worker-supervisor")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            log.warning("worker.killed", pid=process.pid)

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 (our argv)
            self.command, process_group=0, pass_fds=(self.pipe.read_fd,)
        )
        log.info("worker.spawned", pid=process.pid)
        return process

    async def _keep_running(self) -> None:
        pause = 1.0
        while True:
            await asyncio.sleep(1.0)
            process = self.process
            if process is None or process.poll() is None:
                pause = 1.0
                continue
            log.error("worker.exited", pid=process.pid, returncode=process.returncode)
            await asyncio.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            self.process = self._spawn()
