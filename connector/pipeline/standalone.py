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

import structlog

from connector import memory, memory_probe
from connector.delivery.client import make_client
from connector.gc import WORKER_GC_THRESHOLDS, settle_gc
from connector.metrics import Metrics
from connector.pipeline.build import build_pipeline
from connector.pipeline.wakeup import WakeListener
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
