"""Which attempts get a row of their own in `attempts` (migration 0009), on every backend.

A delivery delivered at its first attempt (most of them) is fully described by its own row:
`attempts` 1, `first_attempt_at` (the attempt's time), `status` 'delivered', `last_status`
and `last_duration_ms`. Writing the same facts again as an `attempts` row cost the SQLite
writer a random page of the `attempts_delivery` index per delivery (bench/README.md,
"Delivery", session 10), so only the others are written; the `attempt_history` view shows
both kinds as one history, and a trigger moves that attempt into `attempts` when a replay
turns the delivered row back to pending (migration 0009, both backends).
"""

from __future__ import annotations

from connector.storage.base import AttemptRecord


def first_success(attempt: AttemptRecord) -> bool:
    """The attempt its delivery's row alone records."""
    return attempt.attempt == 1 and attempt.outcome == "delivered"
