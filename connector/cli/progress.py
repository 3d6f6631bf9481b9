"""Progress bars for long commands: shown on a terminal, silent in pipes and logs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

Advance = Callable[[int], None]


@contextmanager
def progress(total: int, label: str) -> Iterator[Advance]:
    """`advance(n)` moves a bar to `total` on stderr when it is a terminal; else no-op."""
    if not sys.stderr.isatty() or total <= 0:
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update
