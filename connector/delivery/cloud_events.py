"""CloudEvents 1.0 over HTTP for actions with `format = "cloudevents"`, built with the SDK.

Receivers that already speak CloudEvents (Knative, Azure Event Grid, Google Eventarc, Dapr,
any SDK's `from_http`) can take our events without a mapping of their own. The attributes:

  id               the delivery id: stable across retries and equal to `webhook-id`, so a
                   receiver de-duplicates a retry by `source` + `id` as the spec intends
  source           `/click-connector/<source id>`: the configured source the webhook came in on
  type             `com.clickconnector.<event type>`, e.g. `com.clickconnector.email.clicked`:
                   reverse-DNS prefixed as the spec recommends, so our `email.clicked` cannot
                   be mistaken for another producer's
  time             the event's `occurred_at` (when the ESP says the click happened)
  datacontenttype  application/json; `data` is the event, or the action's body template output

Modes (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md):
structured sends one `application/cloudevents+json` document, so the Standard Webhooks
signature covers the attributes too; binary sends `data` as the body and the attributes as
`ce-*` headers, which the signature does not cover (`ce-id` equals the signed `webhook-id`).
Either way the signature is computed over the exact bytes returned here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from cloudevents.core.bindings.http import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

TYPE_PREFIX = "com.clickconnector."
SOURCE_PREFIX = "/click-connector/"
_FORMAT = JSONFormat()


def attributes(event: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """The context attributes for one delivery of `event` (a `model_dump(mode="json")`)."""
    try:
        source, kind, occurred_at = event["source"], event["type"], event["occurred_at"]
        time = datetime.fromisoformat(occurred_at)
    except (KeyError, TypeError) as error:
        raise ValueError(f"event lacks a CloudEvents attribute source: {error}") from None
    return {
        "specversion": "1.0",
        "id": delivery_id,
        "source": SOURCE_PREFIX + quote(str(source), safe=""),
        "type": TYPE_PREFIX + str(kind),
        "time": time,
        "datacontenttype": "application/json",
    }


def encode(
    value: Any,
    payload: bytes,
    event: dict[str, Any],
    delivery_id: str,
    mode: Literal["structured", "binary"],
) -> tuple[bytes, dict[str, str]]:
    """The body and CloudEvents headers for one delivery.

    `value` is what to send as `data` and `payload` its compact JSON bytes: binary mode
    sends those bytes unchanged (the SDK passes bytes data through as the body), structured
    mode lets the SDK write the whole document.
    """
    attrs = attributes(event, delivery_id)
    if mode == "binary":
        message = to_binary(CloudEvent(attrs, payload), _FORMAT)
    else:
        message = to_structured(CloudEvent(attrs, value), _FORMAT)
    return message.body, message.headers
