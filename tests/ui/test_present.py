"""What the event cards say about a rule decision, including a phase the processor gave up on."""

from __future__ import annotations

from typing import Any

import pytest

from connector.ui.present import event_row

MATCHED = {"matched": [{"rule": "crm", "actions": ["hook"]}], "unmatched": []}
ERROR = {"error": "DataError: PostgreSQL text fields cannot contain NUL (0x00) bytes"}


@pytest.mark.parametrize(
    ("decision", "matched", "failed"),
    [
        ({"immediate": MATCHED}, ["crm → hook"], []),
        ({"immediate": ERROR}, [], [f"not routed: {ERROR['error']}"]),
        (
            {"immediate": MATCHED, "settled": ERROR},
            ["crm → hook"],
            [f"not routed (settled): {ERROR['error']}"],
        ),
        (None, [], []),
    ],
)
def test_a_failed_phase_is_shown_not_hidden(
    decision: dict[str, Any] | None, matched: list[str], failed: list[str]
) -> None:
    """An event the processor could not route says so, instead of an empty decision."""
    stored = {"seq": 1, "event": {"id": "e1"}, "decision": decision, "processed": True}
    row = event_row(stored)
    assert (row.matched, row.failed) == (matched, failed)
