"""Configuration loading: env substitution, fail-closed validation, problems named by key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_settings, parse_settings
from connector.errors import ConfigError

BASE = {
    "sources": [{"id": "cio", "provider": "customerio", "signing_keys": ["${CIO_KEY}"]}],
    "rules": [{"id": "r1", "actions": ["a1"]}],
    "actions": [{"id": "a1", "type": "log"}],
}


def _problems(data: dict[str, object], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, env if env is not None else {"CIO_KEY": "k"})
    return caught.value.problems


def test_env_substitution_fills_secrets() -> None:
    """`${VAR}` is replaced from the environment and the secret stays a SecretStr."""
    settings = parse_settings(BASE, {"CIO_KEY": "s3cret"})
    assert settings.sources[0].signing_keys[0].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_env_default_is_used_when_unset() -> None:
    """`${VAR:-default}` falls back to the default."""
    data = {
        **BASE,
        "sources": [{"id": "cio", "provider": "customerio", "signing_keys": ["${NOPE:-fallback}"]}],
    }
    assert parse_settings(data, {}).sources[0].signing_keys[0].get_secret_value() == "fallback"


def test_missing_env_var_is_named() -> None:
    """A missing environment variable is an error naming the key that uses it."""
    problems = _problems(BASE, env={})
    assert problems == ["sources[0].signing_keys[0]: environment variable CIO_KEY is not set"]


def test_source_without_secret_fails_closed() -> None:
    """A Customer.io source without signing keys does not load."""
    data = {**BASE, "sources": [{"id": "cio", "provider": "customerio"}]}
    assert any(p.startswith("sources[0] (cio).signing_keys") for p in _problems(data))


def test_unknown_provider_is_named() -> None:
    """An unknown provider name is reported at its key with the known names."""
    data = {**BASE, "sources": [{"id": "x", "provider": "nosuch", "signing_keys": ["k"]}]}
    problems = _problems(data)
    assert problems[0].startswith("sources[0].provider: unknown provider 'nosuch'")


def test_rule_naming_unknown_action_fails() -> None:
    """A rule pointing at an action that does not exist stops start-up."""
    data = {**BASE, "rules": [{"id": "r1", "actions": ["ghost"]}]}
    assert "rules[0] (r1).actions: unknown action 'ghost'" in _problems(data)


def test_duplicate_ids_and_unknown_keys_are_reported() -> None:
    """Duplicate ids and misspelt keys are both reported."""
    data = {**BASE, "actions": [{"id": "a1", "type": "log"}, {"id": "a1", "type": "log"}]}
    assert "actions: duplicate id 'a1'" in _problems(data)
    typo = {**BASE, "server": {"prot": 1}}
    assert any(p.startswith("server.prot") for p in _problems(typo))


def test_check_config_command(tmp_path: Path) -> None:
    """`connector check-config` exits 0 on a good file and 2 listing problems on a bad one."""
    good = tmp_path / "good.toml"
    good.write_text('[[sources]]\nid = "cio"\nprovider = "customerio"\nsigning_keys = ["k"]\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources]]\nid = "cio"\nprovider = "customerio"\n')
    runner = CliRunner()
    ok = runner.invoke(main, ["check-config", str(good)])
    failed = runner.invoke(main, ["check-config", str(bad)])
    assert ok.exit_code == 0, ok.output
    assert "1 source(s)" in ok.output
    assert failed.exit_code == 2
    assert "signing_keys" in failed.output


def test_invalid_toml_and_missing_file() -> None:
    """Unreadable files are config errors, not tracebacks."""
    with pytest.raises(ConfigError):
        load_settings("/nonexistent/connector.toml")


def test_demo_config_is_valid() -> None:
    """The bundled demo config loads as shipped."""
    from connector.cli.common import DEMO_CONFIG

    settings = load_settings(DEMO_CONFIG, env={})
    assert settings.sources[0].provider == "customerio"


def test_provider_status_overrides() -> None:
    """Brevo gets 429 where others get 503 (it discards on 5xx); others keep our codes."""
    from connector.errors import SignatureError, StorageUnavailable
    from connector.webhooks import status_for
    from providers.registry import PROVIDERS

    assert status_for(PROVIDERS["brevo"], StorageUnavailable("down")) == 429
    assert status_for(PROVIDERS["brevo"], SignatureError("bad")) == 401
    assert status_for(PROVIDERS["customerio"], StorageUnavailable("down")) == 503
    assert status_for(None, StorageUnavailable("down")) == 503


def test_unsupported_storage_url_is_a_config_error() -> None:
    """A storage URL we cannot serve is refused at load, naming the key."""
    problems = _problems({**BASE, "storage": {"url": "mysql://db/x"}})
    assert problems[0].startswith("storage.url: must be sqlite:///PATH or postgresql://")


def test_a_postgresql_url_is_accepted_and_its_password_never_shown() -> None:
    settings = parse_settings(
        {**BASE, "storage": {"url": "postgresql://app:${PGPASSWORD}@db:5432/clicks"}},
        {"CIO_KEY": "k", "PGPASSWORD": "s3cret:pa@ss"},
    )
    assert settings.storage.backend == "postgresql"
    assert "s3cret" not in settings.storage.redacted_url
    assert settings.storage.redacted_url.startswith("postgresql://app:***@")


def test_worker_section_defaults_to_a_worker_process_and_checks_its_values() -> None:
    """[worker]: a worker process by default; a bad mode or priority is named by key."""
    assert parse_settings(BASE, {"CIO_KEY": "k"}).worker.mode == "process"
    problems = _problems({**BASE, "worker": {"mode": "threads", "nice": 25}})
    assert any(p.startswith("worker.mode") for p in problems)
    assert any(p.startswith("worker.nice") for p in problems)


def test_a_delivery_lease_outlasts_everything_claimed_before_it() -> None:
    """Up to 2 x 50 claimed, to one destination at worst, 5 at a time there, each up to the
    slowest action's 30 s: 20 rounds + 60 s."""
    from connector.pipeline.build import lease_seconds

    settings = parse_settings(
        {
            "actions": [
                {
                    "id": "slow",
                    "type": "http",
                    "url": "http://127.0.0.1:9/",
                    "timeout": 30,
                    "allow_networks": ["127.0.0.0/8"],
                },
                {"id": "log", "type": "log"},
            ],
            "delivery": {"batch_size": 50, "concurrency": 10, "destination_concurrency": 5},
        },
        {},
    )
    assert lease_seconds(settings) == 20 * 30 + 60
