"""`connector deliveries list|replay` against the same SQLite file the service uses."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from connector.storage.base import AttemptRecord, NewDelivery
from connector.storage.sqlite import SqliteStore


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "c.db"}"\n')
    return path


def _seed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.open_sync()
    store.transaction_sync(
        lambda tx: tx.add_deliveries(
            [NewDelivery(f"d{i}", f"e{i}", "crm", ["r"], b"{}", not_before=1.0) for i in (1, 2)]
        )
    )
    store.transaction_sync(
        lambda tx: tx.record_attempts(
            [
                AttemptRecord("d1", 1, 2.0, "dead", 404, "HTTP 404", 1.0, None),
                AttemptRecord("d2", 1, 2.0, "delivered", 200, None, 1.0, None),
            ]
        )
    )
    store.close_sync()


def test_list_dead_and_replay_all_dead(tmp_path: Path) -> None:
    """Dead letters are listed with their error and `replay --all-dead` re-queues them."""
    _seed(tmp_path)
    config = str(_config(tmp_path))
    runner = CliRunner()
    dead = runner.invoke(main, ["deliveries", "list", "--config", config, "--status", "dead"])
    assert dead.exit_code == 0, dead.output
    assert "d1" in dead.output and "HTTP 404" in dead.output
    assert "d2" not in dead.output
    replay = runner.invoke(main, ["deliveries", "replay", "--config", config, "--all-dead"])
    assert replay.exit_code == 0
    assert "queued 1 delivery" in replay.output
    pending = runner.invoke(main, ["deliveries", "list", "--config", config, "--status", "pending"])
    assert "d1" in pending.output


def test_replay_by_id_and_usage_errors(tmp_path: Path) -> None:
    """Replaying by id works; giving both ids and --all-dead is a usage error."""
    _seed(tmp_path)
    config = str(_config(tmp_path))
    runner = CliRunner()
    by_id = runner.invoke(main, ["deliveries", "replay", "--config", config, "d2"])
    assert "queued 1 delivery" in by_id.output
    both = runner.invoke(main, ["deliveries", "replay", "--config", config, "d1", "--all-dead"])
    assert both.exit_code == 2
