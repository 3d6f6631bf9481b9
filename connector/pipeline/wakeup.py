"""A pipe from the web process to its worker process: "new events are stored".

Without it the worker finds new events by polling the inbox every `[worker] poll_seconds`,
which added half a poll interval on average to every click's way downstream. A byte per
acknowledged webhook wakes the routing loop at once; polling stays as the fallback (a
worker run on its own, a lost byte). Writes never block the webhook: when the pipe is full
the worker has wake-ups pending anyway, and the byte is dropped.

Wake-ups are coalesced: at most one byte per `COALESCE_SECONDS`. A write per webhook woke
the worker process thousands of times a second under load (each a context switch charged
to the web process's event loop: about a tenth of its busy time in a profile at 2,600
req/s). The first webhook after a quiet spell writes at once (at a paced 200 req/s that is
every one, which waited a millisecond for nothing before); those stored within the
window after a write share one byte at its end. In the worker, `WakeListener` reads the
pipe, and only while routing is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable

COALESCE_SECONDS = 0.001


class WakePipe:
    """Owned by `connector serve`; the read end is inherited by each worker it starts."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        os.set_inheritable(self.read_fd, True)
        self._pending = False
        self._written = float("-inf")  # time.monotonic() of the last write

    def wake(self) -> None:
        """Called from the event loop after events are stored."""
        if self._pending:
            return
        wait = self._written + COALESCE_SECONDS - time.monotonic()
        if wait <= 0:
            self._write()
        else:
            self._pending = True
            asyncio.get_running_loop().call_later(wait, self._write)

    def _write(self) -> None:
        self._pending = False
        self._written = time.monotonic()
        with contextlib.suppress(OSError):  # a full pipe, a gone worker, a closed pipe
            os.write(self.write_fd, b"\0")

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


class WakeListener:
    """The wake pipe's read end, watched only while routing is idle.

    While routing finds work its loop comes round again at once, yet every byte the web
    process wrote (one per millisecond under load) woke this process on the core the two
    share. Now the reader is registered when routing goes idle and removed when it finds
    work; bytes written meanwhile wait in the pipe (64 KiB, over a minute of wake-ups; the
    web process drops them when it is full) and wake routing as soon as it is watched again.
    Under load: the worker's context switches 548 -> 374 a second, the web's CPU a request
    -10 % (bench/README.md).
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
