"""Builds service configs for tests: a real SQLite file in a temp folder, fast retries."""

from __future__ import annotations

from pathlib import Path

from connector.config import load_settings
from connector.settings import Settings

CIO_KEY = "cio_test_signing_key"
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def write_config(
    folder: Path,
    downstream_url: str,
    *,
    extra: str = "",
    secret: bool = True,
    bots: str = "enabled = true",
) -> Path:
    """A config with one Customer.io source, one catch-all rule and one http action."""
    path = folder / "connector.toml"
    secret_line = f'secret = "{WEBHOOK_SECRET}"' if secret else ""
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = 0

[storage]
url = "sqlite:///{folder / "connector.db"}"

[delivery]
allow_networks = ["127.0.0.0/8"]
initial_backoff_seconds = 0.05
max_backoff_seconds = 0.2
jitter_seconds = 0.01

[bots]
{bots}

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["{CIO_KEY}"]

[[rules]]
id = "all-clicks"
actions = ["downstream"]

[[actions]]
id = "downstream"
type = "http"
url = "{downstream_url}"
timeout = 5
{secret_line}
{extra}
"""
    )
    return path


def settings_for(folder: Path, downstream_url: str, **kwargs: object) -> Settings:
    return load_settings(write_config(folder, downstream_url, **kwargs))  # type: ignore[arg-type]
