"""`connector worker`: routing, bot scoring and delivery without the web server."""

from __future__ import annotations

import os
from pathlib import Path

import click

from connector.cli.common import config_option, load_or_exit, resolve_config_path


@click.command()
@config_option
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Exit when this process is gone (set by `connector serve`).",
)
@click.option("--nice", type=click.IntRange(0, 19), default=0, help="Lower the CPU priority.")
@click.option(
    "--wake-fd",
    type=int,
    default=None,
    hidden=True,
    help="A pipe that says new events are stored (set by `connector serve`).",
)
def worker(
    config_path: Path | None, parent_pid: int | None, nice: int, wake_fd: int | None
) -> None:
    """Process stored events and deliver them until stopped (SIGTERM or Ctrl-C).

    With `[worker] mode = "process"` `connector serve` starts and supervises one itself;
    with `mode = "external"` run this command yourself, against the same database.
    """
    import uvloop

    from connector.logging import configure_logging
    from connector.pipeline.standalone import run_worker

    settings = load_or_exit(resolve_config_path(config_path))
    configure_logging(settings.server.log_level)
    if nice:
        os.nice(nice)
    uvloop.run(run_worker(settings, parent_pid, wake_fd))
