"""The contract every registered provider must meet, run over each provider's fixture folder.

Adding a provider (module + registry line + `fixtures/<name>/manifest.json`) runs all of
these for it with no new test code.
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.errors import ForbiddenSource, MalformedPayload, SignatureError
from providers.base import Provider
from providers.registry import PROVIDERS
from schemas import EVENT_MODELS
from schemas.events import SCHEDULED_TYPES
from tests.support.fixtures import Case, all_cases, parse_time, provider_folders

# A manifest's count key -> the event type it counts: every type a webhook can produce. The
# scheduled types (email.not_clicked, email.click_timeout) are the connector's own, never a
# provider's, so they have no key and a fixture that yields one fails the count check.
COUNTED = {"clicked": "email.clicked", "delivered": "email.delivered", "sent": "email.sent"}
CASES = all_cases()
SIGNED = [case for case in CASES if case.manifest.get("body_signed")]
STALE = [case for case in CASES if case.manifest.get("stale_at")]
AUTH_REQUIRED = [case for case in CASES if case.manifest.get("auth_headers")]


def _ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


def test_every_registered_provider_has_fixtures() -> None:
    """Each registry entry ships a fixture folder, so the contract runs on it."""
    assert set(PROVIDERS) <= set(provider_folders())


def _protocol_members() -> dict[str, Any]:
    """The `Provider` protocol's members: data attributes (annotations) and methods."""
    methods = {
        name: value
        for name, value in vars(Provider).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    return {**dict.fromkeys(Provider.__annotations__), **methods}


PROTOCOL_MEMBERS = _protocol_members()


def test_the_protocol_names_the_hooks_looked_up_at_run_time() -> None:
    """STATUS_OVERRIDES, certificate_url and sign_body are protocol members, not name look-ups."""
    assert {"STATUS_OVERRIDES", "certificate_url", "sign_body"} <= set(PROTOCOL_MEMBERS)


@pytest.mark.parametrize("provider_name", sorted(PROVIDERS))
@pytest.mark.parametrize("member", sorted(PROTOCOL_MEMBERS))
def test_every_provider_has_every_protocol_member(provider_name: str, member: str) -> None:
    """Each registered provider defines each member, methods with the protocol's parameters."""
    provider = PROVIDERS[provider_name]
    assert hasattr(provider, member), f"{provider_name} lacks {member}"
    wanted = PROTOCOL_MEMBERS[member]
    value = getattr(provider, member)
    if wanted is None:
        return
    assert callable(value)
    expected = list(inspect.signature(wanted).parameters)[1:]  # without self
    assert list(inspect.signature(value).parameters) == expected


@pytest.mark.parametrize("provider_name", sorted(PROVIDERS))
def test_hooks_hold_values_of_the_protocol_types(provider_name: str) -> None:
    """STATUS_OVERRIDES maps statuses to statuses; hooks answer with the declared types."""
    provider = PROVIDERS[provider_name]
    assert isinstance(provider.STATUS_OVERRIDES, Mapping)
    assert all(
        isinstance(ours, int) and isinstance(theirs, int) and 100 <= theirs < 600
        for ours, theirs in provider.STATUS_OVERRIDES.items()
    )
    case = next(c for c in CASES if c.provider == provider_name)
    url = provider.certificate_url(case.request())
    assert url is None or url.startswith("https://")
    try:
        body = provider.sign_body(case.body, case.source(), datetime(2025, 1, 1, tzinfo=UTC))
    except NotImplementedError:  # only the ESP holds the key (SNS without a test key)
        return
    assert isinstance(body, bytes)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_signed_fixture_verifies(case: Case) -> None:
    """A fixture signed with the test credentials is accepted."""
    provider = PROVIDERS[case.provider]
    verified = provider.verify(case.request(), case.source())
    assert verified.credential


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fixture_parses_to_expected_events(case: Case) -> None:
    """Each fixture yields exactly the documented counts, and events match expectations."""
    provider = PROVIDERS[case.provider]
    result = provider.parse(case.request(), case.source())
    counts = Counter(parsed.event.type for parsed in result.events)
    expected = {kind: case.expected[key] for key, kind in COUNTED.items() if key in case.expected}
    assert dict(counts) == expected
    assert len(result.ignored) == case.expected.get("ignored", 0)
    assert len(result.rejected) == case.expected.get("rejected", 0)
    for parsed in result.events:
        model = EVENT_MODELS[parsed.event.type]
        assert model.model_validate(parsed.event.model_dump()) == parsed.event
        assert parsed.event.occurred_at.utcoffset() == timedelta(0)
        assert parsed.event.source == case.manifest["source"]["id"]
    if "expect" in case.expected:
        from tests.support.fixtures import subset_mismatches

        first = result.events[0].event.model_dump(mode="json")
        expected = dict(case.expected["expect"])
        if "occurred_at" in expected:
            assert parse_time(first.pop("occurred_at")) == parse_time(expected.pop("occurred_at"))
        assert subset_mismatches(expected, first) == []


def test_webhook_types_exclude_the_scheduled_ones() -> None:
    """The counted types are the schema's types minus those only the connector makes
    (scheduled events, and clicks on its own trigger links)."""
    assert set(COUNTED.values()) == set(EVENT_MODELS) - SCHEDULED_TYPES - {"link.clicked"}


@pytest.mark.parametrize("provider_name", sorted(PROVIDERS))
def test_event_type_tables_name_only_webhook_types(provider_name: str) -> None:
    """A provider's event-type table maps only to types a webhook can report."""
    table = getattr(PROVIDERS[provider_name], "EVENT_TYPES", {})
    assert set(table.values()) <= set(COUNTED.values())


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_event_ids_are_stable(case: Case) -> None:
    """Parsing the same request twice gives the same event ids (dedup depends on it)."""
    provider = PROVIDERS[case.provider]
    first = provider.parse(case.request(), case.source())
    second = provider.parse(case.request(), case.source())
    assert [p.event.id for p in first.events] == [p.event.id for p in second.events]
    assert len({p.event.id for p in first.events}) == len(first.events)


@pytest.mark.parametrize("case", SIGNED, ids=_ids(SIGNED))
def test_tampered_body_is_rejected(case: Case) -> None:
    """Changing one byte of a signed body makes verification fail."""
    provider = PROVIDERS[case.provider]
    tampered = case.body.replace(b"e", b"E", 1)
    assert tampered != case.body
    with pytest.raises(SignatureError):
        provider.verify(case.request(body=tampered), case.source())


@pytest.mark.parametrize("case", AUTH_REQUIRED, ids=_ids(AUTH_REQUIRED))
def test_missing_auth_header_is_rejected(case: Case) -> None:
    """Without its authentication header the request is refused."""
    provider = PROVIDERS[case.provider]
    dropped = {name.lower() for name in case.manifest["auth_headers"]}
    headers = {k: v for k, v in case.headers.items() if k.lower() not in dropped}
    with pytest.raises((SignatureError, ForbiddenSource)):
        provider.verify(case.request(headers=headers), case.source())


@pytest.mark.parametrize("case", STALE, ids=_ids(STALE))
def test_stale_signature_is_rejected(case: Case) -> None:
    """Past the provider's replay window, a correct signature is refused."""
    provider = PROVIDERS[case.provider]
    late = parse_time(case.manifest["stale_at"])
    with pytest.raises(SignatureError):
        provider.verify(case.request(received_at=late), case.source())


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_wrong_credentials_are_rejected(case: Case) -> None:
    """The same request checked against other credentials is refused."""
    provider = PROVIDERS[case.provider]
    source = case.source()
    wrong = {
        field: tuple(f"wrong-{i}" for i, _ in enumerate(getattr(source, field)))
        for field in ("signing_keys", "basic_auth", "bearer_tokens")
        if getattr(source, field)
    }
    if not wrong:
        pytest.skip("provider authenticates with public keys; covered by tampering")
    from dataclasses import replace

    with pytest.raises((SignatureError, ForbiddenSource)):
        provider.verify(case.request(), replace(source, **wrong))


@pytest.mark.parametrize("provider_name", sorted(PROVIDERS))
@pytest.mark.parametrize("body", [b"", b"not json", b"[1,2", b"\xff\xfe", b"123", b'"x"'])
def test_unreadable_body_is_malformed(provider_name: str, body: bytes) -> None:
    """A body that is not the provider's format raises MalformedPayload, never anything else."""
    case = next(c for c in CASES if c.provider == provider_name)
    provider = PROVIDERS[provider_name]
    try:
        result = provider.parse(case.request(body=body), case.source())
    except MalformedPayload:
        return
    assert result.events == []
