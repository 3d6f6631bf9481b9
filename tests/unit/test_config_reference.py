"""docs/configuration.md is the generated reference as it is now: every setting documented."""

from __future__ import annotations

from pathlib import Path

from connector.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_is_current() -> None:
    """Regenerate with `connector config-reference > docs/configuration.md`."""
    assert DOC.read_text() == reference()


def test_every_key_has_a_meaning() -> None:
    rows = [line for line in reference().splitlines() if line.startswith("| `")]
    assert rows
    assert [row for row in rows if row.rstrip().endswith("|  |")] == []


def test_the_keys_new_users_ask_about_are_there() -> None:
    text = reference()
    for key in (
        "`log_level`",
        "`max_attempts`",
        "`include_test_sends`",
        "`include_system_links`",
        'type = "log"',
        "## `[bots]`",
        "`allow_networks`",
    ):
        assert key in text
