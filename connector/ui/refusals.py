"""Webhook requests this process refused, by source and reason (a wrong secret shows here).

Refused requests (bad signature, stale timestamp, unknown source...) are answered 4xx and
never stored, so they are read from the process's own Prometheus counter
(`connector_webhooks_rejected`): counts since this process started, per replica.
"""

from __future__ import annotations

from collections import defaultdict

from starlette.requests import Request

# what a person fixing a refused source should check, by the refusal's reason (errors.py)
HINTS = {
    "signature": "the signature or credentials did not match: the secret at the ESP and this"
    " source's signing_keys differ, or the ESP's clock is off",
    "forbidden": "the sender's address is not in this source's allowed_ips",
    "malformed": "the body could not be read as this provider's webhook",
    "too_large": "the body was over server.max_body_bytes",
    "media_type": "the Content-Type is not one this provider sends",
    "method": "the request was not a POST",
}


def refusals(request: Request) -> dict[str, list[tuple[str, int]]]:
    """source -> [(reason, count)], largest first."""
    services = getattr(request.app.state, "services", None)
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    if services is None:
        return found
    for metric in services.metrics.rejected.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value:
                found[sample.labels["source"]].append((sample.labels["reason"], int(sample.value)))
    for reasons in found.values():
        reasons.sort(key=lambda item: -item[1])
    return found
