"""The compiled twin (schemas/compiled.py) accepts, refuses and encodes as the models do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from providers.registry import PROVIDERS
from schemas import EVENT_MODELS, EmailClicked
from schemas.compiled import (
    EVENT_STRUCTS,
    build_event,
    compile_model,
    encode,
    to_model,
    validation_problem,
    without_nul,
)
from tests.support.fixtures import all_cases


def _walk(model: type[BaseModel]) -> list[type[BaseModel]]:
    nested = [
        annotation
        for info in model.model_fields.values()
        for annotation in (info.annotation, *getattr(info.annotation, "__args__", ()))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel)
    ]
    return [model, *(inner for child in nested for inner in _walk(child))]


@pytest.mark.parametrize("kind", sorted(EVENT_MODELS))
def test_every_model_compiles_to_the_same_fields_in_the_same_order(kind: str) -> None:
    for model in _walk(EVENT_MODELS[kind]):
        struct = compile_model(model)
        assert struct.__struct_fields__ == tuple(model.model_fields)
        assert struct.__struct_config__.forbid_unknown_fields


def test_every_providers_sample_events_encode_exactly_as_their_models() -> None:
    seen: set[str] = set()
    for case in all_cases():
        try:
            result = PROVIDERS[case.provider].parse(case.request(), case.source())
        except Exception:  # cases that test refusals
            continue
        for parsed in result.events:
            assert type(parsed.built) in EVENT_STRUCTS.values(), case.id  # every adapter
            model = EVENT_MODELS[parsed.built.type].model_validate_json(encode(parsed.built))
            assert encode(parsed.built) == to_json(model), case.id
            assert to_json(parsed.event) == encode(parsed.built), case.id
            seen.add(case.provider)
    assert seen == set(PROVIDERS)


_text = st.one_of(st.none(), st.text(max_size=12))
_times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_maybe_wrong = st.one_of(
    _text, st.integers(-5, 200), st.booleans(), st.floats(allow_nan=False), st.just([])
)


def _clicks() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "id": st.text(min_size=1, max_size=10),
            "occurred_at": _times,
            "received_at": _times,
            "provider": st.text(max_size=8),
            "source": st.text(max_size=8),
            "provider_event_id": st.text(max_size=8),
            "link": st.fixed_dictionaries(
                {"url": st.text(max_size=20)},
                optional={
                    "id": _text,
                    "host": _text,
                    "position": st.one_of(st.none(), st.integers(0, 50)),
                    "hidden": st.one_of(st.none(), st.booleans()),
                },
            ),
        },
        optional={
            "recipient": st.fixed_dictionaries({}, optional={"email": _text, "id": _text}),
            "message": st.fixed_dictionaries(
                {},
                optional={
                    "id": _text,
                    "subject": _text,
                    "link_count": st.one_of(st.none(), st.integers(0, 99)),
                },
            ),
            "client": st.fixed_dictionaries(
                {}, optional={"user_agent": _text, "ip": _text, "http_method": _text}
            ),
            "metadata": st.dictionaries(st.text(max_size=6), _json_values, max_size=4),
            "test": st.booleans(),
        },
    )


@settings(max_examples=300, deadline=None)
@given(_clicks())
def test_valid_fields_give_the_models_bytes(fields: dict[str, Any]) -> None:
    built = build_event("email.clicked", fields)
    assert _same_json(encode(built), to_json(EmailClicked.model_validate(fields)))
    assert to_model(built) == EmailClicked.model_validate(fields)


def _same_json(ours: bytes, theirs: bytes) -> bool:
    """Byte-equal, but for how a float from 1e16 up writes its exponent (1e16 vs 1e+16) and
    for a NUL, which we store as U+FFFD."""
    theirs = without_nul(theirs)
    return ours == theirs or (
        ours.replace(b"e+", b"e") == theirs.replace(b"e+", b"e")
        and orjson.loads(ours) == orjson.loads(theirs)
    )


# pydantic's lax mode turns these into the field's type; the twin may refuse them instead (it
# is never laxer than the model): adapters hand over typed values, and a `true` where a number
# belongs is better refused than stored as 1 (msgspec reads "42" as 42, but not "00").
_LAX_ONLY = {
    "link.position": (bool, float, str),
    "bot.score": (bool, float, str),
    "test": (int, float, str),
}


@settings(max_examples=400, deadline=None)
@given(
    _clicks(),
    st.sampled_from(["link.url", "link.position", "recipient.email", "bot.score", "test", "x"]),
    _maybe_wrong,
)
def test_a_field_is_refused_whenever_the_model_refuses_it(
    fields: dict[str, Any], where: str, value: Any
) -> None:
    """Whatever is put in a field (unknown names included): the twin refuses what the model
    refuses, and what both accept is encoded to the same bytes."""
    head, _, leaf = where.partition(".")
    if leaf:
        fields[head] = {**fields.get(head, {}), leaf: value}
    else:
        fields[head] = value
    try:
        model = EmailClicked.model_validate(fields)
    except ValidationError:
        with pytest.raises(msgspec.ValidationError):
            build_event("email.clicked", fields)
        return
    try:
        built = build_event("email.clicked", fields)
    except msgspec.ValidationError:
        assert isinstance(value, _LAX_ONLY.get(where, ())), (where, value)
        return
    assert _same_json(encode(built), to_json(model))


def test_refusals_name_the_field_like_pydantic_does() -> None:
    now = datetime.now(UTC)
    fields = {
        "id": "evt_1",
        "occurred_at": now,
        "received_at": now,
        "provider": "p",
        "source": "s",
        "provider_event_id": "1",
        "link": {"url": 5},
    }
    with pytest.raises(msgspec.ValidationError) as error:
        build_event("email.clicked", fields)
    assert validation_problem(error.value) == "link.url: Expected `str`, got `int`"


def test_times_in_other_zones_keep_their_offset_like_the_model() -> None:
    """Adapters give UTC, but the twin must not differ for any aware time it is given."""
    zone = timezone(timedelta(hours=5, minutes=30))
    fields = {
        "id": "evt_1",
        "occurred_at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=zone),
        "received_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "provider": "p",
        "source": "s",
        "provider_event_id": "1",
    }
    built = build_event("email.delivered", fields)
    assert encode(built) == to_json(EVENT_MODELS["email.delivered"].model_validate(fields))
    assert set(EVENT_STRUCTS) == set(EVENT_MODELS)
