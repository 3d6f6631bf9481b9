"""Garbage-collector settings for long-running processes (web and worker)."""

from __future__ import annotations

import gc

# Collect young objects every 50 000 allocations instead of 700: a webhook allocates
# thousands of short-lived objects, and with the defaults the collector ran ~150 times a
# second, promoting survivors into full passes over the bot evidence (~40 ms each); measured
# under load: GC time 640 -> 64 ms in 9 s, ~5 % more webhooks per second.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_gc() -> None:
    """Freeze start-up data (detector tables, rules) out of GC passes and space them out."""
    gc.collect()  # freeze only what is alive
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
