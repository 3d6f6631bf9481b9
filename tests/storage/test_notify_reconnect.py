"""PostgreSQL wake-ups after a server restart: the first event stored after it still wakes
the other processes' workers (the NOTIFY's connection from before the restart is broken;
it used to fail once, so that event waited for the workers' poll)."""

from __future__ import annotations

import asyncio

import psycopg

from connector.storage.postgres_notify import Notifier, listen

# what a restart does to the notifier's connection, and to no other
END_NOTIFIER = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE query = 'NOTIFY connector_work' AND pid <> pg_backend_pid()"
)


def test_a_notify_after_its_connection_broke_still_wakes_the_listener(pg_url: str) -> None:
    """poke, the server ends the notifier's connection, poke again: the listener wakes."""

    async def scenario() -> list[str]:
        woken = asyncio.Event()
        seen: list[str] = []
        listening = asyncio.create_task(listen(pg_url, woken.set, str))
        notifier = Notifier(pg_url, str)
        try:
            for step in ("connected", "notified", "notified after the break"):
                if step != "connected":
                    notifier.poke()
                await asyncio.wait_for(woken.wait(), 10)
                woken.clear()
                seen.append(step)
                if step == "notified":
                    async with await psycopg.AsyncConnection.connect(pg_url) as admin:
                        await admin.execute(END_NOTIFIER)
            return seen
        finally:
            listening.cancel()
            await notifier.close()

    assert asyncio.run(scenario()) == ["connected", "notified", "notified after the break"]
