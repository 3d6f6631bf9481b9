"""Deliveries in flight: fair shares of the window, per-destination slots, and a slow
receiver on 127.0.0.1 that cannot starve a fast one through the real worker loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from connector.delivery.outflow import Outflow
from connector.storage.base import NewDelivery
from tests.delivery.harness import running_worker

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def _blocked(gate: asyncio.Event, seen: list[str]) -> Callable[[], Awaitable[str]]:
    async def work() -> str:
        seen.append("started")
        await gate.wait()
        return "done"

    return work


def test_one_destination_may_fill_the_window_but_not_beyond() -> None:
    """Alone, a destination gets the whole window; the next one is refused."""

    async def scenario() -> tuple[list[bool], int]:
        flow: Outflow[str] = Outflow(concurrency=4, per_destination=2, window=6)
        gate, seen = asyncio.Event(), list[str]()
        admitted = [flow.start("a", _blocked(gate, seen)) for _ in range(7)]
        await asyncio.sleep(0)
        running = len(seen)
        gate.set()
        await flow.wait(lambda: False, 5)
        return admitted, running

    admitted, running = asyncio.run(scenario())
    assert admitted == [True] * 6 + [False]
    assert running == 2  # per_destination slots, not the wire's 4


def test_a_new_destination_trims_the_queue_of_a_full_one_to_its_share() -> None:
    """A slow destination holding the window loses its queued (unsent) deliveries beyond
    half of it when a second destination shows up; those sent keep running."""

    async def scenario() -> tuple[list[str], int, bool]:
        flow: Outflow[str] = Outflow(concurrency=4, per_destination=2, window=8)
        gate, seen = asyncio.Event(), list[str]()
        for _ in range(8):
            flow.start("slow", _blocked(gate, seen))
        await asyncio.sleep(0)
        other = flow.start("fast", _blocked(asyncio.Event(), []))
        await asyncio.sleep(0.01)  # the trimmed tasks finish cancelling
        busy = flow.busy
        gate.set()
        await asyncio.sleep(0.05)
        done = flow.take()
        await flow.cancel()
        return done, busy, other

    done, busy, other = asyncio.run(scenario())
    assert other is True
    assert busy == 4 + 1  # slow trimmed to its share (8 // 2), plus the newcomer
    assert done == ["done"] * 4


def test_wait_returns_once_ready_holds_with_attempts_still_in_flight() -> None:
    """`wait` ends when its condition holds after a finish, not only when all are done."""

    async def scenario() -> tuple[int, list[str]]:
        flow: Outflow[str] = Outflow(concurrency=3, per_destination=3, window=3)
        gates = [asyncio.Event() for _ in range(3)]
        for gate in gates:
            flow.start("a", _blocked(gate, []))
        await asyncio.sleep(0)
        for gate in gates[:2]:
            gate.set()
        await flow.wait(lambda: flow.busy <= 1, 5)
        busy, done = flow.busy, flow.take()
        await flow.cancel()
        return busy, done

    busy, done = asyncio.run(scenario())
    assert (busy, done) == (1, ["done", "done"])


def test_lanes_take_destinations_in_turn_on_long_lived_tasks() -> None:
    """Attempts run on at most `concurrency` lanes (tasks), taking destinations in turn."""

    async def scenario() -> tuple[list[str], int, int]:
        flow: Outflow[str] = Outflow(concurrency=2, per_destination=1, window=10)
        order, lanes, wire = list[str](), set[int](), [0, 0]

        def work(key: str) -> Callable[[], Awaitable[str]]:
            async def attempt() -> str:
                order.append(key)
                lanes.add(id(asyncio.current_task()))
                wire[0] += 1
                wire[1] = max(wire)
                await asyncio.sleep(0.001)
                wire[0] -= 1
                return key

            return attempt

        for key in ("a", "a", "a", "b", "b", "c"):
            flow.start(key, work(key))
        await flow.wait(lambda: False, 5)
        assert sorted(flow.take()) == ["a", "a", "a", "b", "b", "c"]
        await flow.cancel()
        return order, len(lanes), wire[1]

    order, lanes, most = asyncio.run(scenario())
    assert order[:3] == ["a", "b", "c"] and order[3:] in (["a", "b", "a"], ["b", "a", "a"])
    assert (lanes, most) == (2, 2)


async def _sink(
    gate: asyncio.Event | None, seen: list[bytes], arrived: asyncio.Event
) -> asyncio.Server:
    """An HTTP/1.1 receiver on 127.0.0.1 that answers 200 (after `gate`, if given) and sets
    `arrived` at each request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                seen.append(await reader.readexactly(length))
                arrived.set()
                if gate is not None:
                    await gate.wait()
                writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


@pytest.mark.e2e
def test_a_slow_receiver_does_not_starve_a_fast_one(tmp_path: Path) -> None:
    """20 deliveries to a receiver that does not answer are claimed first, then 20 to a fast
    one: the fast ones all arrive while the slow one holds just its destination's slots."""
    count = 20

    async def scenario() -> tuple[int, int, int]:
        gate, slow_seen, fast_seen = asyncio.Event(), list[bytes](), list[bytes]()
        arrived = asyncio.Event()
        slow = await _sink(gate, slow_seen, asyncio.Event())
        fast = await _sink(None, fast_seen, arrived)
        rows = [
            NewDelivery(f"{action}-{i}", f"evt-{i}", action, ["r"], b"{}", due)
            for action, due in (("slow", 0.0), ("fast", 1.0))
            for i in range(count)
        ]
        delivery = {"concurrency": 4, "destination_concurrency": 2, "batch_size": 10}
        ports = {"slow": _port(slow), "fast": _port(fast)}
        async with running_worker(tmp_path, delivery, ports, rows):
            async with asyncio.timeout(30):
                while len(fast_seen) < count:
                    arrived.clear()
                    await arrived.wait()
            slow_while = len(slow_seen)
            gate.set()
        slow.close()
        fast.close()
        return len(fast_seen), slow_while, len(slow_seen)

    fast_seen, slow_while, slow_total = asyncio.run(scenario())
    assert fast_seen == count
    assert slow_while == 2  # destination_concurrency: the wire had room for 2 more
    assert slow_total >= slow_while
