"""The folder prometheus-client's multiprocess mode keeps metric values in.

Imports nothing that imports prometheus-client: the variable is read when that package is
first imported, so a process must call `use_multiprocess_dir` before.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir() -> str:
    """The folder from the environment, or a fresh one for this process and the worker it
    starts (inherited through the environment, removed when this process exits)."""
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        return given
    folder = tempfile.mkdtemp(prefix="connector-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:  # not in a forked child
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return folder
