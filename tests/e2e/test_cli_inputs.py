"""The CLI refuses what a user mistypes instead of reporting success: `connector links url`
with a `--query` without `=` or a `--base-url` that is not an absolute http(s) URL,
`connector deliveries replay` with an id that names no delivery."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.storage.base import AttemptRecord, NewDelivery
from connector.storage.sqlite import SqliteStore


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "c.db"}"\n'
        '[trigger_links]\nsecret = "cli-input-secret-0123456789"\n'
        'base_url = "https://go.example/"\n'
        '[[links]]\nslug = "spring"\ndestination = "https://x.example/?s={query.src}"\n'
    )
    return path


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--query", "src"], "--query: 'src' is not NAME=VALUE"),
        (["--base-url", "javascript:alert(1)"], "--base-url: "),
        (["--base-url", "go.example.com"], "--base-url: "),
    ],
)
def test_url_refuses_a_mistyped_option(tmp_path: Path, extra: list[str], needle: str) -> None:
    """A usage error naming the option, and no URL printed."""
    args = [
        "links",
        "url",
        "spring",
        "--contact",
        "u_42",
        *extra,
        "--config",
        str(_config(tmp_path)),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "/t/spring" not in result.output


def test_an_empty_query_value_is_kept(tmp_path: Path) -> None:
    """`--query src=` is a deliberate empty value: the URL carries `src=`."""
    args = ["links", "url", "spring", "--contact", "u", "--query", "src=", "--config"]
    result = CliRunner().invoke(main, [*args, str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("&src=")


@pytest.mark.parametrize(
    ("ids", "code", "said"),
    [
        (["d1"], 0, "queued 1 delivery"),
        (["d1", "d1"], 0, "queued 1 delivery"),
        (["nope", "d1"], 1, "queued 1 delivery"),
        (["nope"], 1, "1 of the ids given names no delivery, or one already pending"),
        (["d1", "typo1", "typo2"], 1, "2 of the ids given name no delivery"),
    ],
)
def test_replay_says_when_an_id_names_no_delivery(
    tmp_path: Path, ids: list[str], code: int, said: str
) -> None:
    """A mistyped id fails (exit 1, how many) instead of 'queued 0 deliveries'; a dead
    letter given twice is queued once and is no failure."""
    config = _config(tmp_path)
    store = SqliteStore(tmp_path / "c.db")
    store.open_sync()
    delivery = NewDelivery("d1", "e1", "crm", ["r"], b"{}", not_before=1.0)
    dead = AttemptRecord("d1", 1, 2.0, "dead", 404, "HTTP 404", 1.0, None)
    store.transaction_sync(lambda tx: tx.add_deliveries([delivery]))
    store.transaction_sync(lambda tx: tx.record_attempts([dead]))
    store.close_sync()
    result = CliRunner().invoke(main, ["deliveries", "replay", "--config", str(config), *ids])
    assert result.exit_code == code
    assert said in result.output
