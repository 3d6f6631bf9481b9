"""The click index's gap marker, the same SQL on both backends (`scenario_state`, 0007).

While no check rule can read the scenario engine's click index the processor does not
write it, and says so here first; `connector/pipeline/click_index.py` fills the index from
the stored events once a processor with a check rule starts, then clears the marker.
"""

from __future__ import annotations

from typing import Any


def statements(mark: str) -> tuple[str, str, str]:
    """(open, read, close) with a backend's placeholder."""
    return (
        "INSERT INTO scenario_state (name, value) VALUES ('click_index_gap', ?)"
        " ON CONFLICT (name) DO NOTHING".replace("?", mark),
        "SELECT value FROM scenario_state WHERE name = 'click_index_gap'",
        "DELETE FROM scenario_state WHERE name = 'click_index_gap'",
    )


class ClickGapSql:
    """Mixed into each backend's scenario SQL: the gap operations of the `Tx` protocol."""

    _GAP_SQL: tuple[str, str, str]

    def _gap_run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def open_click_index_gap(self, now: float) -> None:
        """From now on clicks may go unindexed; a gap already open keeps its start."""
        self._gap_run(self._GAP_SQL[0], (now,))

    def click_index_gap(self) -> float | None:
        """When the click index began to lack clicks, or None when it lacks none."""
        rows = self._gap_run(self._GAP_SQL[1])
        return float(rows[0][0]) if rows else None

    def close_click_index_gap(self) -> None:
        self._gap_run(self._GAP_SQL[2])
