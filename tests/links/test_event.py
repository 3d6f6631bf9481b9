"""A click's event, built directly as its compiled struct, is byte for byte what validating
the same fields through `build_event` (the adapters' path) gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connector.links.event import PROVIDER, SOURCE, Click, click_record
from connector.links.fields import click_link_fields
from connector.links.template import fill
from connector.storage.link_records import TriggerLink
from schemas.compiled import build_event, encode
from schemas.events import PURPOSE_KEY

LINK = TriggerLink(
    slug="spring",
    name="Spring",
    destination="https://shop.example/s?who={contact}&v={values.v}",
    values={"v": "b"},
    enabled=True,
    fallback_url=None,
    origin="config",
    config_digest="",
    created_at=0.0,
    updated_at=0.0,
)
optional_text = st.none() | st.text(max_size=40)


def reference(click: Click, unique: str, ignore: frozenset[str]) -> bytes:
    """The event as an adapter would build it: fields validated by `build_event`."""
    fields: dict[str, Any] = {
        "id": "evt_" + unique,
        "occurred_at": click.at,
        "received_at": click.at,
        "provider": PROVIDER,
        "source": SOURCE,
        "provider_event_id": unique,
        "recipient": {"id": click.contact},
        "metadata": {PURPOSE_KEY: "prefetch"} if click.prefetch else {},
        "link": click_link_fields(click.link.destination, click.filled, click.link.slug, ignore),
        "client": {"user_agent": click.user_agent, "ip": click.ip, "http_method": click.method},
        "trigger": {
            "slug": click.link.slug,
            "name": click.link.name,
            "contact_verified": click.contact is not None,
        },
    }
    return encode(build_event("link.clicked", fields))


@given(
    contact=optional_text,
    user_agent=optional_text,
    ip=st.none() | st.ip_addresses().map(str),
    method=st.sampled_from(["GET", "HEAD"]),
    prefetch=st.booleans(),
    stamp=st.floats(0, 4e9),
    ignore=st.sampled_from([frozenset(), frozenset({"who"})]),
)
def test_direct_build_equals_build_event(
    contact: str | None,
    user_agent: str | None,
    ip: str | None,
    method: str,
    prefetch: bool,
    stamp: float,
    ignore: frozenset[str],
) -> None:
    """Same payload bytes, id, times and envelope fields, for any request values."""
    at = datetime.fromtimestamp(stamp, UTC)
    filled = fill(LINK.destination, LINK.values, contact, {})
    click = Click(LINK, filled, contact, user_agent, ip, method, prefetch, at)
    record = click_record(click, ignore)
    unique = record.id.removeprefix("evt_")
    assert record.payload == reference(click, unique, ignore)
    assert (record.type, record.source, record.provider) == ("link.clicked", SOURCE, PROVIDER)
    assert record.occurred_at == record.received_at == at.timestamp()
    assert record.raw == b"{}"
