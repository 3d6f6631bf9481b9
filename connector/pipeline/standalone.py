"""The background pipeline as its own process (`connector worker`).

Why a process: ingest and the pipeline then never share a GIL, so on a machine with a
core to spare the second core routes, scores and delivers while the first acknowledges.
Started by `connector serve` (the default, `[worker] mode = "process"`) it runs at a lower
CPU priority (`[worker] nice`), so on a single core too acknowledging comes first: with the
bot detector on, the web process keeps 0.92-0.98 of its detector-off throughput, against
0.64-0.78 inline (bench/README.md). What remains shared is the database's write lock: the
worker routes inside write transactions, and the web process waits while it holds one.

Started by `connector serve`, it is woken through a pipe (`wakeup.py`) each time the web
process stores events, but listens to the pipe only while routing is idle (`WakeListener`);
it also polls the inbox every `[worker] poll_seconds`, so a worker can run alone too (e.g.
in its own container on the same volume). Its metrics reach the web process's `/metrics`
through prometheus-client's multiprocess folder (inherited from `connector serve`), and it
exits when told to (SIGTERM/SIGINT) or when the `connector serve` that started it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

import structlog

from connector import memory, memory_probe
from connector.delivery.client import make_client
from connector.gc import WORKER_GC_THRESHOLDS, settle_gc
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.settings import Settings
from connector.storage.factory import open_store

log = structlog.get_logger("connector.worker")
TICK_SECONDS = 0.5
# The web process waits for the write lock while the worker routes inside a transaction:
# small batches keep each wait to a few milliseconds.
ROUTE_BATCH = 20
# Everything the worker writes can be derived again from the inbox, and deliveries keep
# their ids: its commits need not wait for fsync (still safe against a crash of the
# process; a power cut can only undo its last transactions, which are then redone).
WORKER_SYNCHRONOUS = "NORMAL"
# Under load the worker holds SQLite's write lock at most 1 / (1 + 4) of the time, so the
# web process keeps acknowledging (sqlite_writer.py; bench/README.md for the figures).
WORKER_YIELD_RATIO = 4.0


async def run_worker(
    settings: Settings, parent_pid: int | None = None, wake_fd: int | None = None
) -> None:
    """Run the loops until stopped; claimed deliveries left unfinished keep their lease."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    store = open_store(settings, synchronous=WORKER_SYNCHRONOUS, yield_ratio=WORKER_YIELD_RATIO)
    await store.open()
    metrics = Metrics()
    client = make_client(settings.delivery)
    pipeline = build_pipeline(
        settings,
        store,
        metrics,
        client,
        poll_seconds=settings.worker.poll_seconds,
        route_batch=ROUTE_BATCH,
    )
    settle_gc(WORKER_GC_THRESHOLDS)
    memory.settle_allocator(loop)
    memory_probe.install(loop)
    if wake_fd is not None:
        pipeline.routing_idle = WakeListener(wake_fd, pipeline.wake).watch
    pipeline.start()
    log.info("worker.started", pid=os.getpid(), parent_pid=parent_pid)
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("worker.parent_gone", parent_pid=parent_pid)
                break
    finally:
        await pipeline.stop()
        await client.aclose()
        await store.close()
        log.info("worker.stopped", pid=os.getpid())


class WakeListener:
    """The wake pipe's read end, watched only while routing is idle.

    While routing finds work its loop comes round again at once, yet every byte the web
    process wrote (one per millisecond under load) woke this process on the core the two
    share. Now the reader is registered when routing goes idle and removed when it finds
    work; bytes written meanwhile wait in the pipe (64 KiB, over a minute of wake-ups; the
    web process drops them when it is full) and wake routing as soon as it is watched again.
    Under load: the worker's context switches 548 -> 374 a second, the web's CPU a request
    -10 % (bench/README.md). (`wakeup.listen` is the same reader, always on.)
    """

    def __init__(self, fd: int, wake: Callable[[], None]) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._wake = wake
        self._watching = False
        self._open = True
        self.watch(True)  # routing starts out idle (Pipeline._loop)

    def watch(self, idle: bool) -> None:
        """Watch the pipe while routing is idle, not while it is busy."""
        if not self._open or idle == self._watching:
            return
        loop = asyncio.get_running_loop()
        if idle:
            loop.add_reader(self._fd, self._readable)
        else:
            loop.remove_reader(self._fd)
        self._watching = idle

    def _readable(self) -> None:
        try:
            while os.read(self._fd, 4096):
                pass
        except BlockingIOError:  # drained, still open
            self._wake()
            return
        self.watch(False)  # an empty read: the web process closed its end (or is gone)
        self._open = False
        os.close(self._fd)
        self._wake()
