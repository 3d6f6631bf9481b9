"""Garbage-collector settings for long-running processes (web and worker)."""

from __future__ import annotations

import gc

# Collect young objects every 50 000 allocations instead of 700: a webhook allocates
# thousands of short-lived objects, and with the defaults the collector ran ~150 times a
# second, promoting survivors into full passes over the bot evidence (~40 ms each); measured
# under load: GC time 640 -> 64 ms in 9 s, ~5 % more webhooks per second.
GC_THRESHOLDS = (50_000, 20, 100)
# The worker leaves cyclic garbage behind every delivery attempt (httpx's response and its
# stream refer to each other: ~21 objects an attempt), so its young generation fills with
# garbage, and a pass costs ~1 us an object: at 50 000 that was a 50-180 ms stall every
# ~5 s at 200 clicks/s, the spikes in click-to-action p99 (bench/README.md). Smaller passes,
# more often, cost the same in all but keep each stall to a few milliseconds.
WORKER_GC_THRESHOLDS = (5_000, 20, 100)


def settle_gc(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Freeze start-up data (detector tables, rules) out of GC passes and space them out."""
    gc.collect()  # freeze only what is alive
    gc.freeze()
    gc.set_threshold(*thresholds)
