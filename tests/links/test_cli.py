"""`connector links url|list`: a signed URL the service accepts, and the link list."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import parse_settings
from connector.links.tokens import verify

SECRET = "cli-link-secret-0123456789"


def _config(tmp_path: Path, secret: bool = True) -> Path:
    path = tmp_path / "c.toml"
    section = f'[trigger_links]\nsecret = "{SECRET}"\nbase_url = "https://go.example/"\n'
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "c.db"}"\n'
        + (section if secret else "")
        + '[[links]]\nslug = "spring"\ndestination = "https://x.example/?c={contact}"\n'
    )
    return path


def test_url_prints_a_tracked_url_with_a_valid_token(tmp_path: Path) -> None:
    """The printed URL is base + /t/slug + a token that verifies as the contact."""
    result = CliRunner().invoke(
        main, ["links", "url", "spring", "--contact", "u 42", "--config", str(_config(tmp_path))]
    )
    assert result.exit_code == 0, result.output
    url = urlsplit(result.output.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "go.example", "/t/spring")
    token = parse_qs(url.query)["c"][0]
    assert verify(SECRET.encode(), "spring", token) == "u 42"


def test_url_refuses_without_secret_or_for_an_unknown_slug(tmp_path: Path) -> None:
    """No secret, or a slug nobody defined: a usage error, no URL."""
    runner = CliRunner()
    no_secret = _config(tmp_path, secret=False)
    args = ["links", "url", "spring", "--contact", "u", "--base-url", "https://g.example"]
    assert runner.invoke(main, [*args, "--config", str(no_secret)]).exit_code == 2
    unknown = ["links", "url", "nope", "--contact", "u", "--config", str(_config(tmp_path))]
    result = runner.invoke(main, unknown)
    assert result.exit_code == 2 and "no link 'nope'" in result.output


def test_list_shows_config_links(tmp_path: Path) -> None:
    """`links list` shows the config's links (written as at start-up)."""
    result = CliRunner().invoke(main, ["links", "list", "--config", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("spring enabled origin=config")


def test_the_readme_example_loads() -> None:
    """The README's trigger-links config example validates as written (secret from the env)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Trigger links") :]
    block = re.search(r"```toml\n(.*?)```", section, re.S)
    assert block is not None
    data = tomllib.loads(block.group(1))
    data["actions"] = [{"id": "crm", "type": "log"}]
    settings = parse_settings(data, env={"LINK_SECRET": "s" * 20})
    assert [link.slug for link in settings.links] == ["spring"]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--contact", "x" * 301], "at most 300 bytes"),
        (["--contact", "u", "--query", "c=forged"], "contact token's own parameter"),
    ],
)
def test_url_refuses_what_the_api_refuses(tmp_path: Path, extra: list[str], needle: str) -> None:
    """A contact too long for a token, or a query value in the token's place: usage error."""
    args = ["links", "url", "spring", *extra, "--config", str(_config(tmp_path))]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and needle in result.output
