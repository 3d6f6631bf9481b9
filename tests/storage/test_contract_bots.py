"""Each backend's bot evidence (`Tx.bot_state()`) answers as `MemoryState`, the reference.

The same random sequence of recordings, queries and prunes runs against the store (a few
operations per transaction) and against `MemoryState`; every answer must match. Ids and
times repeat on purpose: repeated clicks, deliveries at the same instant, ties in time that
the event id orders (byte-wise: "E" sorts before "e").
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from connector.bots.state import BotState, ClickRecord, MemoryState
from tests.storage.conftest import Store
from tests.storage.test_contract import run

IDS = [f"{p}{n}" for p in ("e", "E", "é", "e_") for n in range(12)]
MESSAGES = ["m1", "m2", "m3", ""]
IPS = ["192.0.2.1", "192.0.2.2", ""]


def _operation(rng: random.Random, now: float) -> tuple[str, tuple[Any, ...]]:
    kind = rng.choice(["delivery", "click", "click", "ask", "ask", "ask", "prune"])
    received = now + rng.choice([0.0, 1.0, 5.0])
    if kind == "delivery":
        return "record_delivery", (rng.choice(MESSAGES[:3]), float(rng.randint(0, 40)), received)
    if kind == "click":
        ip = rng.choice(IPS)
        click = ClickRecord(
            rng.choice(IDS),
            rng.choice(MESSAGES),
            "l",
            rng.choice("abc"),
            ip,
            ip[:9],
            float(rng.randint(0, 40)) + now,
            received,
            rng.randint(0, 3),
        )
        return "record_click", (click,)
    if kind == "prune":
        return "prune", (now,)
    start = float(rng.randint(0, 60))
    by = now + rng.choice([-5.0, 0.0, 3.0, 100.0])
    return rng.choice(
        [
            ("delivery", (rng.choice(MESSAGES[:3]), by)),
            ("message_clicks", (rng.choice(MESSAGES), start, start + rng.randint(0, 80), by)),
            ("ip_recipients", (rng.choice(IPS), start, start + rng.randint(0, 80), by)),
        ]
    )


def _apply(state: BotState, operations: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
    return [getattr(state, name)(*args) for name, args in operations]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bot_state_answers_as_memory_state(store: Store, seed: int) -> None:
    """Random recordings, queries and prunes give MemoryState's answers, in order."""
    rng = random.Random(seed)
    reference = MemoryState(ttl_seconds=100)
    now = 0.0
    for _ in range(40):
        now += rng.choice([0.0, 2.0, 10.0, 40.0])
        operations = [_operation(rng, now) for _ in range(6)]
        got = run(store, lambda tx, ops=operations: _apply(tx.bot_state(), ops))
        assert got == _apply(reference, operations), operations


def test_bot_evidence_is_written_in_the_callers_transaction(store: Store) -> None:
    """A caller that fails leaves no evidence behind (the state never commits by itself)."""
    click = ClickRecord("x", "m1", "l", "a", "192.0.2.1", "192.0.2", 1.0, 2.0, 0)

    def failing(tx: Any) -> None:
        tx.bot_state().record_click(click)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run(store, failing)
    assert run(store, lambda tx: tx.bot_state().message_clicks("m1", 0, 10, 10)) == []
    run(store, lambda tx: tx.bot_state().record_click(click))
    assert run(store, lambda tx: tx.bot_state().message_clicks("m1", 0, 10, 10)) == [click]
