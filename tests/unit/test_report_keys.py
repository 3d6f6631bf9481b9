"""Report keys fit PostgreSQL's index rows, stay unique, and survive a round trip."""

from __future__ import annotations

import pytest

from connector.storage.report_records import KEY_BYTES, stored_key

SHORT = "https://shop.example.org/spring"
LONG = "https://shop.example.org/a?" + "q=" + "x" * 5000


@pytest.mark.parametrize(
    "key",
    [SHORT, "c" * KEY_BYTES, LONG, LONG + "y", "€" * 400, "€" * 2000, "𝄞" * 300 + "a" * 900],
)
def test_a_stored_key_fits_and_a_second_pass_changes_nothing(key: str) -> None:
    stored = stored_key(key)
    assert len(stored.encode()) <= KEY_BYTES
    assert stored_key(stored) == stored
    if len(key.encode()) <= KEY_BYTES:
        assert stored == key
    else:
        assert stored.startswith(key[:100]) and "…" in stored


def test_long_keys_that_share_their_start_stay_apart() -> None:
    assert stored_key(LONG) != stored_key(LONG + "y")
