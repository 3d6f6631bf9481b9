"""The worker lowers its CPU priority only once its store's writer thread runs, so the
thread that holds the database's write lock keeps the web process's priority."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Run in a child: a nice value cannot be raised again without privileges.
_CHILD = """
import os, sys, threading
from pathlib import Path
from connector.pipeline.standalone import lower_priority
from connector.storage.sqlite import SqliteStore

def nice_of(tid: int) -> int:
    return int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])

store = SqliteStore(Path(sys.argv[1]))
store.open_sync()
lower_priority(int(sys.argv[2]))
writer = next(t for t in threading.enumerate() if t.name == "sqlite-writer")
done = threading.Event()
later = threading.Thread(target=done.wait)
later.start()
print(nice_of(writer.native_id), nice_of(threading.get_native_id()), nice_of(later.native_id))
done.set()
later.join()
store.close_sync()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")
@pytest.mark.parametrize("nice", [0, 5])
def test_the_store_writer_keeps_its_priority_and_the_rest_is_lowered(
    tmp_path: Path, nice: int
) -> None:
    """The writer started before `lower_priority` keeps the base nice; this thread and
    threads it starts afterwards get base + nice."""
    base = os.nice(0)
    output = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path / "p.db"), str(nice)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.split()
    assert [int(value) for value in output] == [base, base + nice, base + nice]
