"""`connector send-sample`: sign a fixture with a source's key and post it, to see it arrive.

Shared-secret providers are signed afresh with the configured key and the current time; a
provider whose signature lives in the body (Mailgun, SNS) rewrites it with `sign_body`.
Where only the ESP can sign (a key we hold only the public half of, and no
`options.test_private_key`), the fixture's stored byte-exact body and headers are posted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx

from connector.cli.common import config_option, load_or_exit, resolve_config_path
from connector.errors import ConnectorError
from providers.registry import PROVIDERS


@click.command("send-sample")
@config_option
@click.option("--url", required=True, help="Service base URL, or the full webhook URL.")
@click.option("--source", "source_id", required=True, help="The configured source id.")
@click.argument("fixture", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def send_sample(config_path: Path | None, url: str, source_id: str, fixture: Path) -> None:
    """Sign FIXTURE (a .raw body) for SOURCE and POST it to the service."""
    settings = load_or_exit(resolve_config_path(config_path))
    configured = settings.source(source_id)
    if configured is None:
        raise click.UsageError(f"no source {source_id!r} in the config")
    provider = PROVIDERS[configured.provider]
    source = configured.to_source()
    now = datetime.now(UTC)
    body = fixture.read_bytes()
    headers = stored_headers(fixture)
    resign_body = getattr(provider, "sign_body", None)  # signatures that live in the body
    try:
        if resign_body is not None:
            body = resign_body(body, source, now)
        signed = provider.sign(body, source, now)
        headers = {**{k: v for k, v in headers.items() if k.lower() == "content-type"}, **signed}
    except (NotImplementedError, ConnectorError) as error:
        click.echo(f"cannot sign locally ({error}): posting the fixture's stored signature")
    target = url if "/webhooks/" in url else f"{url.rstrip('/')}/webhooks/{source_id}"
    headers.setdefault("Content-Type", "application/json")
    response = httpx.post(target, content=body, headers=headers, timeout=10)
    click.echo(f"{response.status_code} {response.text}")
    if response.status_code >= 300:
        raise SystemExit(1)


def stored_headers(fixture: Path) -> dict[str, str]:
    """The headers saved beside a fixture body (`click.raw` -> `click.headers.json`)."""
    path = fixture.with_name(fixture.name.removesuffix(".raw") + ".headers.json")
    if not path.exists():
        return {}
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded
