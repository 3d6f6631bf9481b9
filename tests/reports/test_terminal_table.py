"""`connector report`'s terminal table lines up columns holding wide characters (QA).

A contact or campaign in Japanese, or with an emoji, takes two terminal columns per such
character; the table padded by character count, so every column after it was pushed out
of line (one column per wide character).
"""

from __future__ import annotations

import pytest

from connector.reports.tables import screen_width, text_table


@pytest.mark.parametrize(
    ("key", "width"),
    [
        ("spring", 6),
        ("é ünïcode", 9),
        ("春のセール", 10),
        ("sale😀", 6),
        ("e\u0301", 1),  # e and a combining acute accent
        ("\\u202eevil", 10),  # as `printable` shows a format character
    ],
)
def test_columns_after_a_wide_key_line_up(key: str, width: int) -> None:
    """The key column is padded to the screen width of its widest cell, so every line
    (header, rule, rows) ends at the same screen column."""
    assert screen_width(key) == width
    table = text_table(("key", "clicks"), [(key, 7), ("x", 12)])
    ends = {screen_width(line) for line in table.splitlines()}  # numbers are right-aligned
    assert ends == {max(width, 3) + 2 + 6}, table
