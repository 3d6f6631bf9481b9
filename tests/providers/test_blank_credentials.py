"""Fail closed on a blank credential: a signing key, token or password that is "" (a
`${VAR}` set to an empty string) is a start-up problem for every provider that uses it;
HMAC under an empty key is a signature anyone can compute."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from connector.config import parse_settings
from connector.errors import ConfigError
from providers.base import Source
from providers.registry import PROVIDERS
from tests.support.fixtures import manifest, provider_folders, source_from_dict


def _blanked(source: Source) -> list[tuple[str, Source]]:
    """The fixture's source with each kind of credential it holds made blank."""
    found = []
    if source.signing_keys:
        found.append(("signing_keys", replace(source, signing_keys=(" ",))))
    if source.bearer_tokens:
        found.append(("bearer_tokens", replace(source, bearer_tokens=("",))))
    if source.basic_auth:
        user = source.basic_auth[0].partition(":")[0]
        found.append(("basic_auth", replace(source, basic_auth=(f"{user}:",))))
    return found


CASES = [
    pytest.param(name, key, blank, id=f"{name}-{key}")
    for name in provider_folders()
    for key, blank in _blanked(source_from_dict(manifest(name)["source"]))
]


@pytest.mark.parametrize(("name", "key", "blank"), CASES)
def test_a_blank_credential_is_a_start_up_problem(name: str, key: str, blank: Source) -> None:
    problems = PROVIDERS[name].check_source(blank)
    assert any(problem.startswith(key) for problem in problems), problems


def test_a_signing_key_from_an_empty_variable_stops_the_config() -> None:
    """`signing_keys = ["${CIO_KEY}"]` with CIO_KEY="" is refused, naming the key."""
    data: dict[str, Any] = {
        "sources": [{"id": "cio", "provider": "customerio", "signing_keys": ["${CIO_KEY}"]}],
        "actions": [{"id": "log", "type": "log"}],
        "rules": [{"id": "all", "actions": ["log"]}],
    }
    with pytest.raises(ConfigError) as raised:
        parse_settings(data, env={"CIO_KEY": ""})
    assert any("signing_keys[0]: is empty" in p for p in raised.value.problems)
