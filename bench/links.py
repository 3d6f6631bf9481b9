"""Issue 12's two figures in one run: the trigger-link redirect against a bare Starlette
redirect (`bench/redirect.py`), then report pages on a store of 1,000,000 clicks
(`bench/reports.py`), each in its own process so neither warms the other's caches.

    .venv/bin/python bench/links.py [--postgres]    # about 5 minutes (8 with --postgres)

Ends with both verdicts, as each script states them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERDICT_MARKS = ("x bare (target", "goal p99 <= 100 ms")


def run(script: str, *arguments: str) -> list[str]:
    """Run one benchmark, echoing its output; its verdict lines; exit if it failed."""
    command = [sys.executable, str(HERE / script), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode:
        sys.exit(f"{script} failed with exit code {done.returncode}")
    return [line for line in done.stdout.splitlines() if any(m in line for m in VERDICT_MARKS)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true", help="report pages on PostgreSQL too")
    parser.add_argument("--rounds", default="5", help="redirect rounds")
    args = parser.parse_args()
    verdicts = run("redirect.py", "--layouts", "ingestonly", "--rounds", args.rounds)
    verdicts += run("reports.py", *(["--postgres"] if args.postgres else []))
    print("\n== issue 12, one run")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
