"""`[[actions]]` and `[delivery]` load from TOML and reject bad config at start-up."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from connector.delivery.settings import ACTIONS_ADAPTER, DeliverySettings, HttpAction, LogAction
from connector.delivery.template import FieldRef
from tests.delivery.conftest import SECRET, URL, http_action

CONFIG = f"""
[[actions]]
id = "crm"
type = "http"
url = "https://crm.example.com/hooks/click"
method = "put"
timeout = 5
secret = "{SECRET}"
headers = {{ Authorization = "Bearer tok-123" }}

[actions.body]
email = "recipient.email"
link = "link.url"
campaign = {{ path = "message.campaign_id", default = "none" }}
bot = {{ score = "bot.score", top = {{ code = "bot.reasons.0.code" }} }}

[[actions]]
id = "demo"
type = "log"
"""


def load(toml: str) -> list[HttpAction | LogAction]:
    return ACTIONS_ADAPTER.validate_python(tomllib.loads(toml)["actions"])


def test_toml_config_loads_into_typed_actions() -> None:
    """A documented `[[actions]]` example parses into an HttpAction and a LogAction."""
    http, log = load(CONFIG)
    assert isinstance(http, HttpAction)
    assert isinstance(log, LogAction)
    assert http.method == "PUT"
    assert http.timeout == 5
    assert http.headers["Authorization"].get_secret_value() == "Bearer tok-123"
    assert http.body == {
        "email": FieldRef(path="recipient.email"),
        "link": FieldRef(path="link.url"),
        "campaign": FieldRef(path="message.campaign_id", default="none"),
        "bot": {
            "score": FieldRef(path="bot.score"),
            "top": {"code": FieldRef(path="bot.reasons.0.code")},
        },
    }
    assert log.body == "event"


def test_defaults_are_post_whole_event_ten_seconds_unsigned() -> None:
    """An http action with only id and url POSTs the whole event, 10 s timeout, no signing."""
    action = http_action()
    assert (action.method, action.body, action.timeout, action.secret) == (
        "POST",
        "event",
        10.0,
        None,
    )


def test_table_with_path_and_other_keys_is_a_nested_object() -> None:
    """Only `{path, default}` tables are field references; other tables nest output objects."""
    action = http_action(body={"link": {"path": "link.path", "host": "link.host"}})
    assert action.body == {
        "link": {"path": FieldRef(path="link.path"), "host": FieldRef(path="link.host")}
    }


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"url": "ftp://example.com/x"}, "http:// or https://"),
        ({"url": "/relative/path"}, "http:// or https://"),
        ({"url": "http://exa mple.com"}, "invalid host"),
        ({"url": "https://example.com:99999/"}, "invalid port"),
        ({"method": "GET"}, "method"),
        ({"timeout": 0}, "timeout"),
        ({"id": "has space"}, "id"),
        ({"headers": {"webhook-signature": "x"}}, "set by the connector"),
        ({"headers": {"Content-Type": "text/plain"}}, "set by the connector"),
        ({"headers": {"bad name": "x"}}, "valid HTTP token"),
        ({"headers": {"X-Token": "a\r\nInjected: 1"}}, "printable ASCII"),
        ({"headers": {"X-Token": "abc\n"}}, "printable ASCII"),
        ({"body": "template"}, '"event"'),
        ({"body": {}}, "empty"),
        ({"body": {"email": ""}}, "body.email"),
        ({"body": {"a": {"b": "x..y"}}}, "body.a.b"),
        ({"body": {"a": 5}}, "body.a"),
        ({"body": {"a": {"path": "x", "default": {1, 2}}}}, "JSON value"),
        ({"secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "whsec_"),
        ({"secret": "whsec_not*base64!"}, "base64"),
        ({"secret": "whsec_c2hvcnQ="}, "24 to 64 bytes"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_action_config_is_rejected(override: dict[str, Any], message: str) -> None:
    """Each malformed setting fails validation with a message naming the problem."""
    with pytest.raises(ValidationError) as caught:
        http_action(**override)
    assert message in str(caught.value)


def test_errors_never_echo_secret_values() -> None:
    """A rejected secret or header value does not appear in the validation error text."""
    bad = [
        {"id": "a", "type": "http", "url": URL, "secret": "whsec_TOPSECRET*"},
        {"id": "b", "type": "http", "url": URL, "headers": {"X-Key": "TOPSECRET\n"}},
    ]
    for item in bad:
        with pytest.raises(ValidationError) as caught:
            ACTIONS_ADAPTER.validate_python([item])
        assert "TOPSECRET" not in str(caught.value)


def test_unknown_action_type_is_rejected() -> None:
    """The `type` discriminator only accepts the action kinds we implement."""
    with pytest.raises(ValidationError, match="tag"):
        ACTIONS_ADAPTER.validate_python([{"id": "x", "type": "email"}])


def test_delivery_defaults_match_the_documented_policy() -> None:
    """Defaults: 72 h budget, 5 s first backoff capped at 1 h, 20 in flight (10 to one
    destination) of batches of 50."""
    settings = DeliverySettings()
    assert settings.budget_seconds == 72 * 3600
    assert (settings.initial_backoff_seconds, settings.max_backoff_seconds) == (5, 3600)
    assert (settings.concurrency, settings.destination_concurrency) == (20, 10)
    assert settings.batch_size == 50
    assert settings.max_attempts is None


@pytest.mark.parametrize("engine", ["aiohttp", "httpx"])
def test_a_removed_transport_key_warns_and_is_ignored(engine: str) -> None:
    """`transport` (two engines until session 7) warns and changes nothing, where an unknown
    key fails: the file still delivers as it did, over the one remaining engine."""
    with pytest.warns(FutureWarning, match="transport is no longer a setting"):
        settings = DeliverySettings.model_validate({"transport": engine, "concurrency": 7})
    assert settings == DeliverySettings(concurrency=7)
    with pytest.raises(ValidationError, match="transports"):
        DeliverySettings.model_validate({"transports": engine})


@pytest.mark.parametrize("field", ["concurrency", "destination_concurrency"])
@pytest.mark.parametrize("value", [0, 101])
def test_delivery_concurrency_is_bounded(field: str, value: int) -> None:
    """At least one attempt in flight, at most 100 connections."""
    with pytest.raises(ValidationError, match=field):
        DeliverySettings(**{field: value})


def test_delivery_settings_reject_inverted_backoff() -> None:
    """A cap below the first backoff is a configuration error, not a silent clamp."""
    with pytest.raises(ValidationError, match="max_backoff_seconds"):
        DeliverySettings(initial_backoff_seconds=10, max_backoff_seconds=5)
