"""Wake-ups between processes on PostgreSQL: `LISTEN` / `NOTIFY`.

A worker that did not start the web process which stored an event (a `connector worker`
service of its own, as in docs/replicas/compose.yaml, or another replica's worker) has no
wake pipe (pipeline/wakeup.py): without this it finds new events at its next poll, half a
poll interval late on average. After an ingest stored new events, the process sends
`NOTIFY` on `CHANNEL` (after the COMMIT, so the events are there to be read), coalesced to
one per `COALESCE_SECONDS` on a connection of its own, outside the ingest transactions:
their speed is issue 11's budget, and a hint needs no atomicity. Each worker `LISTEN`s on
a connection of its own and wakes its routing loop.

A notification is a hint, never the work itself: a lost one (a dropped connection, a
listener that is restarting) costs at most one poll interval, and a worker that
(re)connects wakes once at once for whatever was committed while it was away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import structlog

CHANNEL = "connector_work"
NOTIFY_SQL = f"NOTIFY {CHANNEL}"
RETRY_SECONDS = 1.0
# Not the wake pipe's 1 ms: each NOTIFY is a transaction of the server's own (a round trip,
# a commit), and at 1 ms there was one per ingest COMMIT, doubling the server's transactions
# under load (bench/replicas.py: PostgreSQL ingest 0.80 against 0.87 x SQLite without them).
# 20 ms makes it at most 50 a second, still far below a worker's poll interval.
COALESCE_SECONDS = 0.02

log = structlog.get_logger("connector.storage")


async def listen(url: str, wake: Callable[[], None], scrub: Callable[[str], str]) -> None:
    """Call `wake` for each notification on `CHANNEL` until cancelled; reconnects after
    errors (`scrub` removes the password from what is logged)."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                wake()  # anything committed before the LISTEN took effect
                async for _ in conn.notifies():
                    wake()
        except psycopg.Error as error:
            log.warning("storage.listen_failed", error=scrub(f"{type(error).__name__}: {error}"))
        await asyncio.sleep(RETRY_SECONDS)


class Notifier:
    """Sends the coalesced `NOTIFY` of one process (see the module's docstring)."""

    def __init__(self, url: str, scrub: Callable[[str], str]) -> None:
        self._url = url
        self._scrub = scrub
        self._pending = False
        self._conn: psycopg.AsyncConnection[object] | None = None
        self._sending: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """From the event loop, after a commit that stored new events."""
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_later(COALESCE_SECONDS, self._send)

    def _send(self) -> None:
        self._pending = False
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._notify(), name="pg-notify")
        else:  # one NOTIFY is on its way: another after it, for what it will not cover
            self.poke()

    async def _notify(self) -> None:
        """A connection kept from before a server restart fails its first use: the NOTIFY
        is sent again on a fresh one (else the first event after a restart waited for the
        listeners' poll). A fresh connection that fails is a server still down: logged."""
        for _ in range(2):
            fresh = self._conn is None or self._conn.closed
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                await self._conn.execute(NOTIFY_SQL)
                return
            except psycopg.Error as error:  # a hint: the listeners' polling covers a lost one
                await self.close()
                if fresh:
                    text = self._scrub(f"{type(error).__name__}: {error}")
                    log.warning("storage.notify_failed", error=text)
                    return

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
