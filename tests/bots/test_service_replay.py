"""The service's way of running the detector gives the verdicts of a plain in-memory replay.

The service observes and settles in batches, one transaction and one `SqliteState` each;
transactions roll back on storage errors and are redone, other processes commit to the same
file, the process restarts, the mirror evicts. None of that may change a verdict.
"""

from __future__ import annotations

import gzip
import heapq
import itertools
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connector.bots.detector import Detector
from connector.bots.evaluate import read_events
from connector.bots.keys import epoch_seconds
from connector.bots.settings import BotSettings
from connector.bots.state import BotState, MemoryState
from connector.storage import sqlite_bot_mirrors as mirrors
from connector.storage.sqlite_bots import SQLITE_SCHEMA, SqliteState
from schemas.events import Bot, EmailClicked, EmailDelivered

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "bots" / "corpus.jsonl.gz"
SETTINGS = BotSettings(use_cloudip_package=False, state_ttl_seconds=600)
Op = tuple[str, Any]


def _schedule(events: list[EmailClicked | EmailDelivered], found: Detector) -> list[Op]:
    """Observe in arrival order, settle each click once due, prune every 150 events."""
    order = sorted(events, key=lambda e: (e.received_at, e.occurred_at))
    pending: list[tuple[float, int, EmailClicked]] = []
    ops: list[Op] = []
    for count, event in enumerate(order, start=1):
        now = epoch_seconds(event.received_at)
        while pending and pending[0][0] <= now:
            ops.append(("settle", heapq.heappop(pending)[2]))
        ops.append(("observe", event))
        if isinstance(event, EmailClicked):
            heapq.heappush(pending, (epoch_seconds(found.settle_at(event)), count, event))
        if count % 150 == 0:
            ops.append(("prune", now))
    ops += [("settle", click) for _, _, click in sorted(pending)]
    return ops


def _run(
    ops: list[Op],
    found: Detector,
    state: BotState,
    out: dict[tuple[str, str], Bot],
    by_id: bool = False,
) -> None:
    """`by_id`: settle as the service's processor does, by id first (no click read back)."""
    for kind, item in ops:
        if kind == "observe":
            verdict = found.observe(item, state)
            if verdict is not None:
                out["immediate", item.id] = verdict
        elif kind == "settle":
            settled = found.settle_by_id(item.id, state) if by_id else None
            out["settled", item.id] = settled or found.settle(item, state)
        else:
            state.prune(item)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SQLITE_SCHEMA + "CREATE TABLE IF NOT EXISTS other (x);")
    return conn


@pytest.mark.parametrize("cooldown", [0.0, 300.0])
def test_batched_transactions_give_the_replay_verdicts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cooldown: float
) -> None:
    """Rollbacks, other writers, restarts and a tiny mirror leave every verdict unchanged,
    settling by id as the service does."""
    with gzip.open(CORPUS, "rb") as stream:
        events = read_events(itertools.islice(stream, 1500)).events
    reference: dict[tuple[str, str], Bot] = {}
    ops = _schedule(events, Detector(SETTINGS))
    _run(ops, Detector(SETTINGS), MemoryState(SETTINGS.state_ttl_seconds), reference)
    monkeypatch.setattr(mirrors, "MIRROR_ROWS", 50)
    monkeypatch.setattr(mirrors, "FOREIGN_COOLDOWN_SECONDS", cooldown)
    path = tmp_path / "service.db"
    conn = _connect(path)
    found = Detector(SETTINGS)
    served: dict[tuple[str, str], Bot] = {}
    for number, start in enumerate(range(0, len(ops), 40)):
        batch = ops[start : start + 40]
        if number % 7 == 3:  # a storage error: the batch is rolled back, then done again
            conn.execute("BEGIN IMMEDIATE")
            _run(batch, found, SqliteState(conn, SETTINGS.state_ttl_seconds), {}, by_id=True)
            conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        _run(batch, found, SqliteState(conn, SETTINGS.state_ttl_seconds), served, by_id=True)
        conn.execute("COMMIT")
        if number % 5 == 1:  # another process commits (to any table)
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("INSERT INTO other VALUES (1)")
            other.close()
        if number % 11 == 10:  # a restart
            conn.close()
            conn = _connect(path)
    conn.close()
    assert served.keys() == reference.keys()
    assert served == reference
