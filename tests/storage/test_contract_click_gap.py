"""The click index's gap marker (`Tx.open_click_index_gap` and friends), on every backend."""

from __future__ import annotations

from tests.storage.conftest import Store
from tests.storage.test_contract import run


def test_a_gap_keeps_its_first_start_until_closed(store: Store) -> None:
    """None until opened; opening again keeps the first start; closing clears it."""
    assert run(store, lambda tx: tx.click_index_gap()) is None
    run(store, lambda tx: tx.open_click_index_gap(100.0))
    run(store, lambda tx: tx.open_click_index_gap(200.0))
    assert run(store, lambda tx: tx.click_index_gap()) == 100.0
    run(store, lambda tx: tx.close_click_index_gap())
    assert run(store, lambda tx: tx.click_index_gap()) is None
