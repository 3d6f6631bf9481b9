"""Reading a config file into `Settings`: `${VAR}` substitution, every problem in one pass,
paths relative to the file.

* `${VAR}` and `${VAR:-default}` are replaced from the environment. A missing variable is
  reported with the key it sits in, beside every other problem of the file, not instead of
  them. Commands that never use secrets (`deliveries`, `rules test`, `migrate`, reports)
  load with `secrets=False`: a missing variable then stands for a placeholder, so they run
  without every ESP secret in the environment.
* A relative `sqlite:///` path is resolved against the config file's folder, so every
  command given the same file reads the same database, wherever it is run from.
* A file that cannot be read (missing, a folder, no permission, not UTF-8, not TOML) is the
  same clean, named error as any other config problem.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from connector.errors import ConfigError
from connector.settings import Settings, describe_problem, link_context

CONFIG_ENV = "CONNECTOR_CONFIG"
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
UNSET_SECRET = "unset-secret"  # noqa: S105 (a placeholder for a missing variable, no secret)


def substitute_env(
    value: Any, env: dict[str, str], missing: list[str] | None = None, path: str = ""
) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string. A missing VAR is appended to
    `missing` as a problem naming its key (and replaced by `UNSET_SECRET`); without a
    `missing` list it raises `ConfigError` at once."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            problem = f"{path or 'config'}: environment variable {name} is not set"
            if missing is None:
                raise ConfigError([problem])
            missing.append(problem)
            return UNSET_SECRET

        return _ENV_REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {
            k: substitute_env(v, env, missing, f"{path}.{k}" if path else k)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [substitute_env(v, env, missing, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def parse_settings(
    data: dict[str, Any],
    env: dict[str, str] | None = None,
    *,
    base_dir: Path | None = None,
    secrets: bool = True,
) -> Settings:
    """Validate a config mapping; raise `ConfigError` listing every problem by key."""
    missing: list[str] = []
    resolved = substitute_env(data, dict(os.environ) if env is None else env, missing)
    problems = list(missing) if secrets else []
    keys = [problem.split(":", 1)[0] for problem in problems]
    try:
        settings = Settings.model_validate(resolved, context=link_context(resolved))
    except ValidationError as error:
        found = [describe_problem(problem) for problem in error.errors()]
        raise ConfigError(problems + [p for p in found if not p.startswith(tuple(keys))]) from None
    problems += [p for p in settings.problems() if not keys or not p.startswith(tuple(keys))]
    if problems:
        raise ConfigError(problems)
    if base_dir is not None:
        settings.storage.anchor(base_dir)
    return settings


def load_settings(
    path: str | Path,
    env: dict[str, str] | None = None,
    *,
    secrets: bool = True,
    base_dir: Path | None = None,
) -> Settings:
    """Read and validate a TOML config file (relative paths: against `base_dir`, by default
    the file's own folder)."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"config file {path} does not exist"]) from None
    except IsADirectoryError:
        raise ConfigError([f"config file {path} is a folder, not a file"]) from None
    except PermissionError:
        raise ConfigError([f"config file {path} cannot be read: permission denied"]) from None
    except OSError as error:
        raise ConfigError([f"config file {path} cannot be read: {error.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{path}: invalid TOML: {error}"]) from None
    anchor = base_dir if base_dir is not None else file.resolve().parent
    return parse_settings(data, env, base_dir=anchor, secrets=secrets)
