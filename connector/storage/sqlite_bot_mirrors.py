"""Which mirror a SQLite connection gets, and when it must be rebuilt.

The mirror belongs to the connection (found by `id(conn)`, confirmed by a marker the mirror
leaves in the connection's own `temp.user_version`) and is checked once per `SqliteState`,
that is once per transaction as the storage layer uses it (`SqliteTx.bot_state()`). It is
rebuilt, from a scan of the keys the database holds (so new keys need no read; at most
`PRESENCE_LIMIT` keys of each kind, ~1 s per 500 000, else every key is read on first
use), when:

* it is first used, or our own writes were rolled back (the marker, written in the same
  transaction as the rows, is rolled back with them), or the connection is not the one the
  mirror was built for;
* someone else changed bot rows: `bot_version`, which triggers bump once per row changed in
  either bot table, is not what we last read plus our own changes since. Another process may
  have added evidence for keys we hold. Commits to other tables (the ingest process writes
  `events` hundreds of times a second) leave it alone, which `PRAGMA data_version` did not.
  With a steady second bot writer the scan is skipped (at most one every
  `FOREIGN_COOLDOWN_SECONDS`): each transaction then starts empty and reads every key on
  first use, still exact, close to the cost of plain SQL.

The counter alone would miss a rollback of our writes followed by as many foreign ones; the
marker alone would miss foreign writes; together they miss neither. A database whose
`bot_version` is missing counts as written by someone else at every check.

Limits: an instance must not outlive its transaction (a rollback is only noticed by the
next instance, and a rollback to a savepoint taken inside one instance's life not at all),
and the mirror is not thread-safe (the storage layer has one writer thread per database).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from itertools import count
from math import inf

from connector.bots.mirror import DEFAULT_MAX_ROWS, Mirror

FOREIGN_COOLDOWN_SECONDS = 300.0
MIRROR_ROWS = DEFAULT_MAX_ROWS  # per index of each connection's mirror
PRESENCE_LIMIT = 500_000  # keys of each kind scanned at most to (re)build a mirror (~1 s)
_MAX_MIRRORS = 4  # connections remembered per process (the service uses one)

_VERSION = "SELECT version FROM bot_version WHERE id = 1"
_SCAN_MESSAGES = (  # each walks an index in order: DISTINCT costs no sort
    "SELECT DISTINCT message_key FROM bot_clicks WHERE message_key != ''",
    "SELECT DISTINCT message_key FROM bot_deliveries",
)
_SCAN_IPS = ("SELECT DISTINCT ip FROM bot_clicks WHERE ip != ''",)
_SCAN_NEWEST = (
    "SELECT MAX(received) FROM (SELECT MAX(received) AS received FROM bot_clicks "
    "UNION ALL SELECT MAX(received) FROM bot_deliveries)"
)

_MIRRORS: OrderedDict[int, Mirror] = OrderedDict()
_MIRRORS_LOCK = threading.Lock()
_MARKERS = count(1)


def attach(conn: sqlite3.Connection) -> Mirror:
    """The connection's mirror, rebuilt unless nothing happened behind its back."""
    version = _version(conn)
    marker = conn.execute("PRAGMA temp.user_version").fetchone()[0]
    with _MIRRORS_LOCK:
        mirror = _MIRRORS.pop(id(conn), None)
        if mirror is None:
            mirror = Mirror(MIRROR_ROWS)
            while len(_MIRRORS) >= _MAX_MIRRORS:
                _MIRRORS.popitem(last=False)
        _MIRRORS[id(conn)] = mirror
    if marker == mirror.marker and version is not None and version == mirror.version:
        return mirror
    now = time.monotonic()
    # Our marker is intact (so no rollback, same connection), yet someone else wrote bot rows.
    foreign = mirror.marker != 0 and marker == mirror.marker
    if foreign and now - mirror.last_foreign < FOREIGN_COOLDOWN_SECONDS:
        mirror.clear()  # keys are read on first use until writers quieten down
    else:
        _rebuild(conn, mirror)
    if foreign:
        mirror.last_foreign = now
    mirror.version = version
    mark(conn, mirror)
    return mirror


def _version(conn: sqlite3.Connection) -> int | None:
    """The bot tables' change count; None where the schema has not created it (yet)."""
    try:
        row = conn.execute(_VERSION).fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    return None if row is None else int(row[0])


def _rebuild(conn: sqlite3.Connection, mirror: Mirror) -> None:
    """Start afresh from a scan of the keys the database holds (bounded: else key by key)."""
    messages = _scan(conn, _SCAN_MESSAGES)
    ips = _scan(conn, _SCAN_IPS) if messages is not None else None
    if messages is None or ips is None:
        mirror.clear()  # too big to scan at once: every key is read on first use
        return
    newest = conn.execute(_SCAN_NEWEST).fetchone()[0]
    mirror.clear(messages, ips, -inf if newest is None else float(newest))


def _scan(conn: sqlite3.Connection, queries: tuple[str, ...]) -> list[int] | None:
    """Hashes of the keys these queries list, None beyond `PRESENCE_LIMIT` of them."""
    found: list[int] = []
    for query in queries:
        for (key,) in conn.execute(query):
            found.append(hash(key))
            if len(found) > PRESENCE_LIMIT:
                return None
    return found


def mark(conn: sqlite3.Connection, mirror: Mirror) -> None:
    """Leave a fresh marker in the current transaction: a rollback takes it away too."""
    mirror.marker = 1 + next(_MARKERS) % 2_000_000_000
    conn.execute(f"PRAGMA temp.user_version = {mirror.marker}")
