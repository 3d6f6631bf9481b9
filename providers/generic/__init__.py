"""Generic JSON webhooks: the authenticity check and the field mapping come from the config.

For senders without a built-in adapter (Klaviyo, Iterable, HighLevel, in-house systems): a
source declares in `options` how requests are authenticated (`auth`), where the events are
(`events_path`), which ones are clicks, deliveries or sends (`click`, `delivered`, `sent`: the
types a webhook can report; the scheduled `email.not_clicked` and `email.click_timeout` are
refused as targets), where each schema field is (`fields`) and how times are written
(`timestamp`). docs/generic-adapter.md is the reference, with worked examples. `check_source`
validates the options (fail closed: unknown keys are errors too) and `_spec` compiles them once
per distinct options table.

Delivery behaviour depends on the sender. We answer 2xx for every authentic request, including
events that match none of `click`, `delivered` and `sent` (acknowledged, counted as ignored),
401 for a wrong credential or signature, 403 for a caller outside `allowed_ips`, 400 for a body
that is not JSON. A misconfigured source answers 500 (our fault: a retry can succeed once fixed).

Event ids: `fields.provider_event_id` when mapped (an item without it is rejected), else
`composite_key(message.id, recipient, link.url, raw occurred_at)`, which merges two clicks on
the same link in the same instant. Ids are scoped by `provider_label` when set (sources for the
same sender de-duplicate together), else by the source id, so two unrelated senders that both
number their events 1, 2, 3 never swallow each other's events as duplicates.

Layout: `spec.py` validates and compiles the options (with `paths.py` for where values live and
`times.py` for how times are written), `auth.py` holds `verify` and `sign`, `mapping.py` holds
`parse`. This module is the provider surface the registry and the contract tests use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from providers.base import Source, WebhookRequest
from providers.generic.auth import DEFAULT_TOLERANCE, sign, verify
from providers.generic.mapping import name, parse
from providers.generic.spec import FIELDS, _spec, check_source

__all__ = [
    "DEFAULT_TOLERANCE",
    "FIELDS",
    "STATUS_OVERRIDES",
    "_spec",
    "certificate_url",
    "check_source",
    "name",
    "parse",
    "sign",
    "sign_body",
    "title",
    "verify",
]

title = "Generic JSON webhook"
STATUS_OVERRIDES: Mapping[int, int] = {}  # senders vary; our statuses say what we mean


def certificate_url(request: WebhookRequest) -> str | None:
    """None: nothing to fetch before `verify`, every credential is in the config."""
    return None


def sign_body(body: bytes, source: Source, now: datetime) -> bytes:
    """The body as it is: the generic signatures travel in headers (`sign`)."""
    return body
