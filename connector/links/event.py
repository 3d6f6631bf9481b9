"""The `link.clicked` event of one click, built and encoded as ingest stores events."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from connector.links.fields import click_link_fields
from connector.links.template import Filled
from connector.storage.base import EventRecord
from connector.storage.link_records import TriggerLink
from schemas.compiled import EVENT_STRUCTS, CompiledEvent, compile_model, encode
from schemas.events import PURPOSE_KEY, Client, Link, Recipient, Trigger

PROVIDER = "trigger"
SOURCE = "links"  # the envelope's `source` of every trigger-link click


@dataclass(slots=True)
class Click:
    """What the request tells about one click (not frozen: a frozen dataclass sets each
    field through `object.__setattr__`, a cost paid on every click)."""

    link: TriggerLink
    filled: Filled  # where the person is sent
    contact: str | None  # from a verified token
    user_agent: str | None
    ip: str | None
    method: str
    prefetch: bool
    at: datetime


# The `link.clicked` event's compiled struct and its parts (schemas/compiled.py).
_EVENT = EVENT_STRUCTS["link.clicked"]
_RECIPIENT = compile_model(Recipient)
_LINK = compile_model(Link)
_CLIENT = compile_model(Client)
_TRIGGER = compile_model(Trigger)
_PREFETCH = {PURPOSE_KEY: "prefetch"}


def click_record(click: Click, ignore_params: frozenset[str] = frozenset()) -> EventRecord:
    """The stored form: a fresh id per click (two clicks are two events)."""
    return event_record(
        click.link,
        click.filled,
        click.contact,
        click.user_agent,
        click.ip,
        click.method,
        click.prefetch,
        click.at,
        ignore_params,
    )


def event_record(
    link: TriggerLink,
    filled: Filled,
    contact: str | None,
    user_agent: str | None,
    ip: str | None,
    method: str,
    prefetch: bool,
    at: datetime,
    ignore_params: frozenset[str],
) -> EventRecord:
    """`click_record` without a `Click` built first (the redirect's own path).

    The struct is built directly rather than through `build_event`'s validation (~3 % of
    a click's CPU under bench/redirect.py): every value here is ours and already of its
    field's type (str, None, bool, an aware datetime), and the model has no constraint on
    them. The `trigger` part is one struct per link and verification, made once: it is only
    encoded, never changed. tests/links/test_event.py checks the bytes equal `build_event`'s.
    """
    unique = click_id()
    event_id = "evt_" + unique
    event = _EVENT(
        id=event_id,
        occurred_at=at,
        received_at=at,
        provider=PROVIDER,
        source=SOURCE,
        provider_event_id=unique,
        recipient=_RECIPIENT(id=contact),
        metadata=dict(_PREFETCH) if prefetch else {},
        link=_LINK(**click_link_fields(link.destination, filled, link.slug, ignore_params)),
        client=_CLIENT(user_agent=user_agent, ip=ip, http_method=method),
        trigger=_trigger(link.slug, link.name, contact is not None),
    )
    stamp = at.timestamp()
    return EventRecord(
        event_id,
        "link.clicked",
        SOURCE,
        PROVIDER,
        stamp,
        stamp,
        encode(cast(CompiledEvent, event)),
        b"{}",
    )


@lru_cache(maxsize=1024)
def _trigger(slug: str, name: str, verified: bool) -> Any:
    return _TRIGGER(slug=slug, name=name, contact_verified=verified)


def click_id() -> str:
    """32 hex characters: the time in nanoseconds, then 64 random bits.

    A click has no ESP id to hash (webhook events' ids are hashes, `schemas.ids.event_id`),
    so its id only has to be unique. Time first puts each new id at the end of the inbox's
    unique index instead of on a random page of it: one page written per group commit
    instead of one per click, which cut the SQLite writer's CPU per click by ~40% under the
    redirect benchmark (bench/README.md, "Trigger-link redirect"). The random bits only
    have to differ (`random`, reseeded in each forked process, costs a third less than
    `os.urandom`'s system call); nothing relies on an id being unguessable.
    """
    return f"{time.time_ns() << 64 | random.getrandbits(64):032x}"  # one format, not two
