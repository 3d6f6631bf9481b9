"""Timing of a click against its message's `email.delivered` event.

Gateways scan at delivery, seconds after the receiving MTA accepted the message; people
first have to notice, open and read. Thresholds are the published ones: 2 s (Mautic, Value
Builder), then the 10/30/60 s presets phishing-simulation vendors use (Hunto). A click that
the ESP timestamps before the delivery is reported as such (Spotler checks for it); up to
one second early counts as clock noise and lands in the under-2 s bucket.
"""

from __future__ import annotations

from connector.bots.records import DeliveryRecord

Hit = tuple[str, str]

CLOCK_TOLERANCE_SECONDS = 1.0
_BUCKETS = (
    (2.0, "timing.under_2s"),
    (10.0, "timing.under_10s"),
    (30.0, "timing.under_30s"),
    (60.0, "timing.under_60s"),
)


def timing_hit(occurred: float, delivery: DeliveryRecord | None) -> Hit | None:
    """The timing reason for a click at `occurred`, or None (late click or no delivery seen)."""
    if delivery is None:
        return None
    delta = occurred - delivery.occurred
    if delta < -CLOCK_TOLERANCE_SECONDS:
        return "timing.before_delivery", f"clicked {-delta:.1f} s before the delivered event"
    for limit, code in _BUCKETS:
        if delta < limit:
            return code, f"clicked {max(delta, 0.0):.1f} s after delivery"
    return None
