"""Reading a config file: every problem in one pass, commands without secrets, paths
relative to the file, unreadable files named cleanly, `--demo` everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_settings
from connector.errors import ConfigError

CONFIG = """
[storage]
url = "sqlite:///data/here.db"

[[sources]]
id = "cio"
provider = "customerio"
signing_keys = ["${CIO_KEY}"]

[[rules]]
id = "r"
actions = ["nope"]
"""


def _write(folder: Path, text: str = CONFIG) -> Path:
    path = folder / "c.toml"
    path.write_text(text)
    return path


def test_a_missing_variable_does_not_hide_the_other_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_write(tmp_path), env={})
    assert caught.value.problems == [
        "sources[0].signing_keys[0]: environment variable CIO_KEY is not set",
        "rules[0] (r).actions: unknown action 'nope'",
    ]


def test_commands_without_secrets_load_without_them(tmp_path: Path) -> None:
    text = CONFIG.replace('actions = ["nope"]', 'actions = ["log"]') + (
        '\n[[actions]]\nid = "log"\ntype = "log"\n'
    )
    settings = load_settings(_write(tmp_path, text), env={}, secrets=False)
    assert settings.sources[0].id == "cio"
    with pytest.raises(ConfigError):
        load_settings(_write(tmp_path, text), env={})


def test_a_relative_sqlite_path_is_the_config_folder_s(tmp_path: Path) -> None:
    """Run from anywhere, the same file names the same database."""
    text = CONFIG.replace('actions = ["nope"]', "actions = []").replace(
        '[[rules]]\nid = "r"\nactions = []\n', ""
    )
    path = _write(tmp_path, text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = Path.cwd()
    os.chdir(elsewhere)
    try:
        settings = load_settings(path, env={"CIO_KEY": "k"})
    finally:
        os.chdir(cwd)
    assert settings.storage.sqlite_path == (tmp_path / "data" / "here.db").resolve()


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d, "is a folder"),
        (lambda d: d / "absent.toml", "does not exist"),
        (lambda d: _binary(d), "not UTF-8"),
    ],
)
def test_an_unreadable_file_is_a_named_config_error(tmp_path: Path, make, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as caught:
        load_settings(make(tmp_path))
    assert words in caught.value.problems[0]


def _binary(folder: Path) -> Path:
    path = folder / "b.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    return path


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_a_file_without_permission_is_a_named_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        load_settings(path)


@pytest.mark.parametrize("command", [["deliveries", "list"], ["migrate", "--check"]])
def test_every_config_command_takes_demo(tmp_path: Path, command: list[str]) -> None:
    """`--demo` works wherever `--config` does (the demo database under ./data)."""
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, [*command, "--demo"])
    finally:
        os.chdir(cwd)
    assert result.exit_code in (0, 1), result.output  # migrate --check: 1 = pending
    assert (tmp_path / "data").is_dir()
