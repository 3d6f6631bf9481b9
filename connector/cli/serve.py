"""`connector serve`: run the service with uvicorn (httptools + uvloop).

By default (`[worker] mode = "process"`) the web process only verifies and stores, and a
supervised worker process routes, scores and delivers (connector/pipeline/standalone.py).
With `mode = "inline"` the background loops run in the web process itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from connector.cli.common import DEMO_CONFIG, config_option, load_or_exit, resolve_config_path
from connector.multiprocess_metrics import use_multiprocess_dir


@click.command()
@config_option
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", type=int, default=None, help="Override server.port.")
def serve(config_path: Path | None, host: str | None, port: int | None) -> None:
    """Receive webhooks and deliver events until stopped (Ctrl-C or SIGTERM)."""
    path = resolve_config_path(config_path)
    demo = path == DEMO_CONFIG
    settings = load_or_exit(path)
    if settings.worker.mode == "process":
        use_multiprocess_dir()  # before prometheus-client is imported: the worker shares it
    import uvicorn

    from connector.app import serve_app
    from connector.logging import configure_logging

    configure_logging(settings.server.log_level)
    bind_host = host or settings.server.host
    bind_port = settings.server.port if port is None else port
    _banner(settings, path, bind_host, bind_port, demo)
    app = serve_app(settings, path)
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is ours to judge: server.trusted_proxies
        timeout_graceful_shutdown=10,
        log_level="warning",
    )


def _banner(settings: object, path: Path, host: str, port: int, demo: bool) -> None:
    from connector.settings import Settings

    assert isinstance(settings, Settings)
    base = f"http://{host}:{port}"
    click.echo(
        f"Click Connector on {base} (config {path}, database {settings.storage.redacted_url})"
    )
    for source in settings.sources:
        click.echo(f"  source {source.id!r} ({source.provider}): POST {base}/webhooks/{source.id}")
        if demo:
            key = source.signing_keys[0].get_secret_value() if source.signing_keys else ""
            click.echo(f"    demo signing key: {key}")
    if demo:
        command = Path(sys.argv[0]).name if shutil.which("connector") else sys.argv[0]
        click.echo(
            f"Try it:  {command} send-sample --demo --url "
            f"{base} --source {settings.sources[0].id} fixtures/customerio/click.raw"
        )
