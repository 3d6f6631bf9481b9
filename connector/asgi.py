"""An importable ASGI application for the server you already run:

    CONNECTOR_CONFIG=connector.toml uvicorn connector.asgi:app
    CONNECTOR_CONFIG=connector.toml gunicorn -k uvicorn.workers.UvicornWorker connector.asgi:app

It is what `connector serve` builds: the config from `$CONNECTOR_CONFIG`, logging, and the
background work as `[worker] mode` says (a supervised worker process per web process by
default). A config problem stops the import with every problem listed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from connector.multiprocess_metrics import use_multiprocess_dir

use_multiprocess_dir()  # before prometheus-client is imported (connector.app imports it)

# ruff: noqa: E402 (the imports below must follow that call)
from starlette.applications import Starlette

from connector.app import serve_app
from connector.config import CONFIG_ENV, load_settings
from connector.errors import ConfigError
from connector.logging import configure_logging


def build(path: Path) -> Starlette:
    """The service's app for the config at `path`, as `connector serve` runs it."""
    settings = load_settings(path)
    configure_logging(settings.server.log_level)
    return serve_app(settings, path)


def _from_environment() -> Starlette:
    config = os.environ.get(CONFIG_ENV)
    if not config:
        raise RuntimeError(f"set {CONFIG_ENV} to the config file to serve connector.asgi:app")
    try:
        return build(Path(config))
    except ConfigError as error:
        problems = "\n".join(f"  - {problem}" for problem in error.problems)
        print(f"{config}: configuration is not valid:\n{problems}", file=sys.stderr)
        raise


app = _from_environment()
