"""Waiting for the event loop's turn that adds nothing, so a burst is one group commit.

Fifty connections answered together send their next requests together, but the loop reads
them over two or three turns. Handing work over at the end of the first turn sent a group
commit of 1-5 requests (its own COMMIT and fsync, the core idle meanwhile) and made the rest
wait for it. The click inbox (links/inbox.py) and the SQLite writer's hand-over
(sqlite_writer.py) instead look again each turn and go at the first one that added nothing:
no timer, only the loop's own turns, a few microseconds each when nothing else is ready,
and at most `MAX_WAIT_TURNS` of them. bench/README.md ("Trigger-link redirect", session 11):
CPU a click x0.91 and req/s x1.12 for the inbox, CPU a webhook ~x0.95 for the writer.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WAIT_TURNS = 4  # loop turns a gathering may wait for one that adds nothing
MAX_WAIT_ITEMS = 100  # a gathering this large goes at once


@dataclass(slots=True)
class Gathering:
    """How much had gathered at the last look, and how many turns it has waited."""

    seen: int = 0
    turns: int = 0

    def settled(self, size: int, most: int = MAX_WAIT_ITEMS) -> bool:
        """Whether `size` items go now: the last turn added none, or waiting is over."""
        if size == self.seen or self.turns >= MAX_WAIT_TURNS or size >= most:
            return True
        self.seen = size
        self.turns += 1
        return False
