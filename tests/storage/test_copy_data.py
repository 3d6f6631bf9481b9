"""`connector copy-data`: a SQLite database moved into PostgreSQL loses no event, dedup id,
pending delivery, check or bot evidence, and the copy keeps working as a store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from click.testing import CliRunner

from connector.cli import main
from connector.storage import sqlite_deliveries
from connector.storage.base import AttemptRecord, IngestBatch
from connector.storage.copy import TABLES
from connector.storage.postgres import PgStore
from tests.scenarios.harness import Harness
from tests.scenarios.support import T0, event


def _populated(path: Path) -> Harness:
    """Clicks and deliveries routed (outbox rows), a check scheduled, bot evidence kept."""
    rules = [
        {"id": "all", "actions": ["crm"]},
        {"id": "nudge", "trigger": "not_clicked", "after": "48h", "actions": ["crm"]},
    ]
    h = Harness(path, rules)
    h.ingest(*[event("email.delivered", p, T0) for p in ("ann", "bob")])
    h.ingest(event("email.clicked", "ann", T0 + 60), event("email.clicked", "bob", T0 + 90))
    h.run(T0 + 100)
    return h


def _deliver_one_at_once(path: Path) -> None:
    """One delivery delivered at its first attempt: kept in its row alone (migration 0009)."""
    with sqlite3.connect(path) as conn:
        (first,) = conn.execute("SELECT id FROM deliveries ORDER BY id LIMIT 1").fetchone()
        done = AttemptRecord(first, 1, T0 + 101, "delivered", 200, None, 1.5, None)
        sqlite_deliveries.record_attempts(conn, [done])


# Every table, and the attempts the history shows (one of them from a delivery's row).
COUNTED = (*TABLES, "attempt_history")


def _counts_sqlite(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED}


def _counts_pg(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED}  # type: ignore[index]


def test_copy_data_moves_everything_and_the_copy_works(tmp_path: Path, pg_url: str) -> None:
    path = tmp_path / "old.db"
    harness = _populated(path)
    harness.close()
    _deliver_one_at_once(path)
    before = _counts_sqlite(path)
    config = tmp_path / "c.toml"
    config.write_text(f'[storage]\nurl = "sqlite:///{path}"\n')
    result = CliRunner().invoke(main, ["copy-data", "--config", str(config), "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert _counts_pg(pg_url) == before
    assert before["events"] == 4 and before["deliveries"] == 2 and before["timers"] == 2
    assert (before["attempts"], before["attempt_history"]) == (0, 1)
    store = PgStore(pg_url)
    store.open_sync()
    try:
        copied = event("email.clicked", "ann", T0 + 60)  # an ESP retry after the move
        again = store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, [copied])))
        fresh = event("email.clicked", "cat", T0 + 200)
        new = store.transaction_sync(lambda tx: tx.ingest(IngestBatch("esp", T0, [fresh])))
        claimed = store.transaction_sync(lambda tx: tx.claim_deliveries(T0 + 200, 10, 60))
        listed = store.transaction_sync(lambda tx: tx.list_events(limit=1))
        routed = store.transaction_sync(lambda tx: tx.event(copied.id))
        outbox = store.transaction_sync(lambda tx: tx.list_deliveries(None, 10))
    finally:
        store.close_sync()
    assert again.duplicates == [copied.id]  # dedup ids came along
    assert new.new == [fresh.id]
    assert len(claimed) == 1  # the pending delivery came along, the delivered one stays so
    assert listed[0]["event"]["id"] == fresh.id  # its seq continues after the copied ones
    assert routed is not None and routed["decision"]["immediate"]["matched"][0]["rule"] == "all"
    assert {tuple(d.rule_ids) for d in outbox} == {("all",)}
    second = CliRunner().invoke(main, ["copy-data", "--config", str(config), "--to", pg_url])
    assert second.exit_code != 0 and "empty database" in second.output
