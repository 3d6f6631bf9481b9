"""Long commands: a progress bar on a terminal, nothing in a pipe; replaying every dead
letter goes batch by batch and replays them all."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.cli.progress import progress
from connector.storage.base import AttemptRecord, IngestBatch, NewDelivery
from connector.storage.sqlite import SqliteStore
from tests.scenarios.support import T0, event


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("terminal", "shown"), [(True, True), (False, False)])
def test_a_bar_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, terminal: bool, shown: bool
) -> None:
    stream = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with progress(10, "working") as advance:
        advance(10)
    assert ("working" in stream.getvalue()) is shown


def test_replay_all_dead_replays_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connector.cli.deliveries.REPLAY_BATCH", 3)
    db = tmp_path / "d.db"
    store = SqliteStore(db)
    store.open_sync()
    clicks = [event("email.clicked", f"p{n}", T0) for n in range(7)]
    store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, clicks)))
    outbox = [NewDelivery(f"d{n}", c.id, "crm", ["r"], b"{}", T0) for n, c in enumerate(clicks)]
    store.transaction_sync(lambda tx: tx.add_deliveries(outbox))
    dead = [AttemptRecord(f"d{n}", 1, T0, "dead", 400, "bad", 1.0, None) for n in range(7)]
    store.transaction_sync(lambda tx: tx.record_attempts(dead))
    store.close_sync()
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{db}"\n')
    result = CliRunner().invoke(
        main, ["deliveries", "replay", "--all-dead", "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert "queued 7 deliveries" in result.output
