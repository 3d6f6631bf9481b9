"""What a long-running process's memory is made of, and the worker's malloc policy.

RSS alone cannot tell a leak from an allocator that keeps freed memory: this splits it into
the kernel's view (`/proc/self/smaps_rollup`: anonymous against file-backed pages), glibc's
(`mallinfo2`: bytes in use, bytes free but kept in the heap, mmapped blocks), pymalloc's
arenas, SQLite's own allocator and, when `tracemalloc` runs, Python's. `bench/soak.py
--probe` reads it from the worker through `memory_probe.py`. What those figures showed
growing (glibc's heap) is bounded by `settle_allocator`, called where the worker starts.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MB = 1024 * 1024
# How often the worker hands glibc's free heap pages back (`keep_trimmed`); bench/README.md
# "Memory soak": 58 trims cost 33 ms in a 1,765 s soak of 1,000,000 clicks.
TRIM_SECONDS = 30.0
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value
_SMAPS_FIELDS = {"Rss": "rss", "Anonymous": "anon"}
_PYMALLOC_FIELDS = {  # sys._debugmallocstats() line -> figure
    "# arenas allocated current": "pymalloc_arenas",
    "# bytes in allocated blocks": "pymalloc_used",
    "# bytes in available blocks": "pymalloc_free",
}


class _MallInfo2(ctypes.Structure):
    """glibc >= 2.33's `struct mallinfo2` (every field a size_t)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallinfo2") or not hasattr(libc, "malloc_trim"):
        return None  # not glibc (musl, macOS): heap figures and trimming are skipped
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


@cache
def _sqlite_used() -> ctypes._NamedFuncPointer | None:
    """`sqlite3_memory_used` of the library the `sqlite3` module is linked to, if shared."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    function = ctypes.CDLL(name).sqlite3_memory_used
    function.restype = ctypes.c_int64
    return function


def smaps() -> dict[str, float]:
    """RSS, its anonymous part (heaps) and the rest (mapped files, shared memory), in MB."""
    kb: dict[str, int] = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in _SMAPS_FIELDS:
            kb[_SMAPS_FIELDS[key]] = int(rest.split()[0])
    kb["file"] = kb["rss"] - kb["anon"]
    return {key: round(value / 1024, 1) for key, value in kb.items()}


def heap() -> dict[str, float]:
    """glibc's heap over all arenas, in MB: in use, free but kept, in mmapped blocks."""
    libc = _libc()
    if libc is None:
        return {}
    info = libc.mallinfo2()
    return {
        "heap_used": round(info.uordblks / MB, 1),
        "heap_free": round(info.fordblks / MB, 1),
        "heap_mmapped": round(info.hblkhd / MB, 1),
    }


def pymalloc() -> dict[str, float]:
    """Python's small-object allocator, in MB: its arenas (1 MiB each, handed back only when
    wholly empty), the blocks in use in them and the free blocks in used pools.

    CPython prints these only to stderr (`sys._debugmallocstats`), so file descriptor 2 is
    pointed at a temporary file for the call: a line another thread writes to stderr then
    would land there. For reports on demand, never in a loop.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode()
    figures: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        name = _PYMALLOC_FIELDS.get(key.strip())
        if name is not None:
            number = int(value.strip().replace(",", ""))
            figures[name] = number if name == "pymalloc_arenas" else round(number / MB, 1)
    return figures


def usage() -> dict[str, float]:
    """The kernel's, glibc's, SQLite's and (when tracing) Python's figures, in MB."""
    figures = smaps() | heap()
    sqlite_used = _sqlite_used()
    if sqlite_used is not None:
        figures["sqlite"] = round(sqlite_used() / MB, 1)
    if tracemalloc.is_tracing():
        figures["python_traced"] = round(tracemalloc.get_traced_memory()[0] / MB, 1)
    return figures


@dataclass
class TrimCost:
    """What trimming has cost this process so far (reported by `memory_probe.py`)."""

    count: int = 0
    seconds: float = 0.0


TRIM_COST = TrimCost()


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Serve every block of `size` bytes or more from its own mapping, for good.

    glibc starts at 128 KiB and raises the threshold each time a mapped block is freed (up
    to 32 MiB), so a process that once freed a large block (the bot mirror's hash array,
    a big query result) allocates its later large blocks inside the heap. Freed, they leave
    holes that small long-lived blocks then pin, and the heap grows in steps. A fixed
    threshold keeps large blocks in mappings, returned to the kernel when freed. True if
    set (glibc only).
    """
    libc = _libc()
    return bool(libc.mallopt(M_MMAP_THRESHOLD, size)) if libc is not None else False


def trim() -> bool:
    """Give the heap's free pages back to the kernel (`malloc_trim(0)`); True if any went."""
    libc = _libc()
    if libc is None:
        return False
    started = time.perf_counter()
    released = bool(libc.malloc_trim(0))
    TRIM_COST.count += 1
    TRIM_COST.seconds += time.perf_counter() - started
    return released


def keep_trimmed(loop: asyncio.AbstractEventLoop, seconds: float = TRIM_SECONDS) -> None:
    """Trim the heap every `seconds` on `loop` for as long as it runs.

    glibc keeps what the process freed for reuse, per arena, and returns it only from the
    top of each heap: a worker whose allocations peak now and then (a batch of deliveries
    in flight, a fold of the bot mirror's hashes) holds its peaks' pages for good, and its
    RSS creeps up in steps. Trimming returns whole free pages from anywhere in the heap.
    """

    def again() -> None:
        trim()
        loop.call_later(seconds, again)

    loop.call_later(seconds, again)


def settle_allocator(loop: asyncio.AbstractEventLoop) -> None:
    """The worker's malloc policy, from one place: large blocks in their own mappings, free
    heap pages handed back every `TRIM_SECONDS` (bench/README.md "Memory soak")."""
    fix_mmap_threshold()
    keep_trimmed(loop)
