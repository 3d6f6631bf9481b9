"""An in-process copy of the bot evidence one SQLite connection has read or written.

`SqliteState` answers the detector's queries from here instead of running three SELECTs
per pass (~31 us together, ~21 us merged into one statement, ~7 us from memory, measured in
the corpus replay). It stays exact by three rules:

* A key (a message key, or an address) is either *mirrored*, meaning every row the database
  holds for it is here, or it is not, and then it is read from SQLite in full on first use.
* A key is *absent* (no rows at all, no SELECT needed) when the mirror is `complete`: it
  scanned every key the database held (`present`, as hashes: a collision only costs a
  needless SELECT), and the key is neither in that scan nor evicted since. New messages and
  addresses, the common case, then cost no read at all.
* Writes go to SQLite first, then here: to a mirrored key's rows, as a new entry for an
  absent key, or (an unknown key) by loading the key, which includes the new row.

Memory is bounded: each index keeps at most `max_rows` rows and evicts whole keys, least
recently used first; an evicted key is remembered (with its newest arrival) until pruning
has removed its rows, and is read again on next use. Remembered keys are folded into
`present` (8 bytes a key instead of a dict entry's ~200) every `max_rows` evictions; past
`MAX_PRESENT` hashes the index stops claiming completeness (unknown keys are read from
SQLite, as before the mirror). Without that a big campaign (each message a new key) grew
the worker by ~11 MB per 100,000 clicks for the 6 hours of `state_ttl_seconds`
(bench/soak.py). When and why the whole mirror is
discarded (another writer's bot rows, a rollback) is
the business of `connector/storage/sqlite_bot_mirrors.py`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable
from heapq import merge
from math import inf
from typing import Generic, TypeVar

from connector.bots.records import MessageRows, Timeline

DEFAULT_MAX_ROWS = 50_000  # per index; ~25 MB of click rows, minutes of heavy traffic


R = TypeVar("R", MessageRows, Timeline)


MAX_PRESENT = 1_000_000  # hashes, 8 MB


class KeyIndex(Generic[R]):
    """Mirrored keys of one kind, least recently used first, within a row budget."""

    def __init__(self, make: Callable[[], R], max_rows: int) -> None:
        self.make: Callable[[], R] = make
        self.max_rows = max_rows
        self.empty: R = make()  # stands for an absent key in reads; never written to
        self.entries: OrderedDict[str, R] = OrderedDict()
        self.rows = 0
        self.complete = False
        self.present: array[int] = array("q")
        self.present_until = -inf  # newest arrival in the scan: once pruned, present is moot
        self.evicted: dict[str, float] = {}

    def clear(self, present: list[int] | None, present_until: float) -> None:
        """Forget everything; `present`: hashes of every key the database holds, if scanned."""
        self.entries.clear()
        self.rows = 0
        self.evicted.clear()
        self.complete = present is not None
        self.present = array("q", sorted(present or ()))
        self.present_until = present_until

    def peek(self, key: str) -> R | None:
        """Like `get` without touching the recency order (for snapshots)."""
        entry = self.entries.get(key)
        if entry is not None:
            return entry
        return self.empty if self._absent(key) else None

    def get(self, key: str) -> R | None:
        """The key's rows, `empty` for an absent key, None when SQLite must be read."""
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            return entry
        return self.empty if self._absent(key) else None

    def for_write(self, key: str) -> R | None:
        """The key's rows to add to (a new entry for an absent key); None when unknown."""
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
            return entry
        if not self._absent(key):
            return None
        entry = self.entries[key] = self.make()
        return entry

    def put(self, key: str, entry: R) -> None:
        """Mirror a key just read in full from SQLite."""
        self.entries[key] = entry
        self.rows += len(entry)
        self.trim()

    def grew(self) -> None:
        """One row was added to a mirrored entry."""
        self.rows += 1
        if self.rows > self.max_rows:
            self.trim()

    def trim(self) -> None:
        while self.rows > self.max_rows and len(self.entries) > 1:
            key, entry = self.entries.popitem(last=False)
            self.rows -= len(entry)
            if len(entry):
                self.evicted[key] = max(self.evicted.get(key, -inf), entry.newest)
        if len(self.evicted) > self.max_rows:
            self._fold_evicted()

    def _fold_evicted(self) -> None:
        """Remember evicted keys as hashes in `present` ("may be in the database"), which
        holds until pruning passes the newest of them; or, past `MAX_PRESENT`, stop
        answering "absent" at all."""
        if not self.complete:
            self.evicted.clear()  # incomplete: every unknown key is read anyway
            return
        if len(self.present) + len(self.evicted) > MAX_PRESENT:
            self.complete = False
            self.present = array("q")
            self.evicted.clear()
            return
        hashes = sorted(hash(key) for key in self.evicted)
        self.present = array("q", merge(self.present, hashes))
        self.present_until = max(self.present_until, *self.evicted.values())
        self.evicted.clear()

    def prune(self, cutoff: float) -> None:
        """Drop what `DELETE ... WHERE received < cutoff` deleted."""
        for key, entry in list(self.entries.items()):
            self.rows -= entry.drop_before(cutoff)
            if not len(entry):
                del self.entries[key]
        self.evicted = {k: newest for k, newest in self.evicted.items() if newest >= cutoff}
        if self.present_until < cutoff:
            self.present = array("q")

    def _absent(self, key: str) -> bool:
        if not self.complete or key in self.evicted:
            return False
        present = self.present
        if not present:
            return True
        wanted = hash(key)
        position = bisect_left(present, wanted)
        return position == len(present) or present[position] != wanted


class Mirror:
    """Both indexes of one connection, with what `sqlite_bot_mirrors.py` needs to check them."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.messages: KeyIndex[MessageRows] = KeyIndex(MessageRows, max_rows)
        self.ips: KeyIndex[Timeline] = KeyIndex(Timeline, max_rows)
        self.marker = 0  # the value we left in the connection's `temp.user_version`
        self.version: int | None = None  # `bot_version` as last read plus our row changes since
        self.last_foreign = -inf  # monotonic time another writer's bot rows were last seen

    def clear(
        self,
        messages: list[int] | None = None,
        ips: list[int] | None = None,
        present_until: float = -inf,
    ) -> None:
        self.messages.clear(messages, present_until)
        self.ips.clear(ips, present_until)

    def prune(self, cutoff: float) -> None:
        self.messages.prune(cutoff)
        self.ips.prune(cutoff)

    def changed(self, rows: int) -> None:
        """Our own statement changed `rows` bot rows, each bumping `bot_version` once."""
        if self.version is not None:
            self.version += rows
