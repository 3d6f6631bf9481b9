"""`connector links url` refuses what a user mistypes instead of printing a URL that cannot
work: a `--query` without `=`, a `--base-url` that is not an absolute http(s) URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main


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
