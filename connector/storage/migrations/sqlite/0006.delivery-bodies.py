"""Delivery bodies move out of the outbox row into `delivery_bodies` (one row per delivery).

The claim and every recorded attempt rewrite the delivery's row; with the ~1.5 KB event
body inside it, each rewrite copied the body and dirtied a page per two rows. Now the row
is ~100 bytes and the body is written once, read once per claim (sqlite_deliveries.py).
A trigger drops a body with its delivery, so pruning needs no change. Python, not SQL:
yoyo's SQL splitter would cut the trigger's body at its semicolon.
"""

from yoyo import step

__depends__ = {"0004.views"}

steps = [
    step("CREATE TABLE delivery_bodies (id TEXT PRIMARY KEY, body BLOB NOT NULL)"),
    step("INSERT INTO delivery_bodies (id, body) SELECT id, body FROM deliveries"),
    step("ALTER TABLE deliveries DROP COLUMN body"),
    step(
        "CREATE TRIGGER delivery_bodies_follow AFTER DELETE ON deliveries"
        " BEGIN DELETE FROM delivery_bodies WHERE id = OLD.id; END"
    ),
]
