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
window after a write share one byte at its end.
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


def listen(fd: int, wake: Callable[[], None]) -> None:
    """In the worker: call `wake` whenever bytes arrive on `fd` (drained each time).

    When the web process is gone the pipe reads as closed (empty reads, readable forever):
    the reader is removed then, or the loop would spin on it; polling carries on, and the
    worker notices its parent is gone at its next tick.
    """
    os.set_blocking(fd, False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            while chunk := os.read(fd, 4096):
                del chunk
        except BlockingIOError:  # drained: the pipe is still open
            wake()
            return
        loop.remove_reader(fd)  # an empty read: the writer closed its end
        os.close(fd)
        wake()

    loop.add_reader(fd, readable)
