"""A delivery delivered at its first attempt gets no `attempts` row from now on.

Its own row holds that attempt (`attempts` 1, `first_attempt_at`, `last_status` and, new
here, `last_duration_ms`); connector/storage/attempt_history.py says why (a random index
page per delivery). `attempt_history` shows every attempt either way: rows from before this
migration keep their `attempts` row, which the view prefers. A replay turns a delivered row
back to pending and rewrites those columns, so the trigger first moves that attempt into
`attempts`. Python, not SQL: yoyo's SQL splitter would cut the trigger's body at its
semicolon.
"""

from yoyo import step

__depends__ = {"0006.delivery-bodies"}

steps = [
    step("ALTER TABLE deliveries ADD COLUMN last_duration_ms REAL"),
    step(
        "CREATE VIEW attempt_history AS"
        " SELECT delivery_id, attempt, at, outcome, status_code, error, duration_ms"
        " FROM attempts UNION ALL"
        " SELECT id, 1, first_attempt_at, status, last_status, last_error, last_duration_ms"
        " FROM deliveries d WHERE status = 'delivered' AND attempts = 1"
        " AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id)"
    ),
    step(
        "CREATE TRIGGER attempt_history_keeps_first AFTER UPDATE OF status ON deliveries"
        " WHEN OLD.status = 'delivered' AND NEW.status != 'delivered' AND OLD.attempts = 1"
        " AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = OLD.id)"
        " BEGIN INSERT INTO attempts"
        " (delivery_id, attempt, at, outcome, status_code, error, duration_ms) VALUES"
        " (OLD.id, 1, OLD.first_attempt_at, OLD.status, OLD.last_status, OLD.last_error,"
        " OLD.last_duration_ms); END"
    ),
]
