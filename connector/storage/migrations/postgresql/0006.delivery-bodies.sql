-- depends: 0004.views
-- Delivery bodies move out of the outbox row into delivery_bodies (one row per delivery):
-- the claim and every recorded attempt rewrite the delivery's row (a new tuple version),
-- which copied the ~1.5 KB event body each time. A body goes with its delivery (cascade).
CREATE TABLE delivery_bodies (
    id TEXT PRIMARY KEY REFERENCES deliveries (id) ON DELETE CASCADE,
    body BYTEA NOT NULL
);
INSERT INTO delivery_bodies (id, body) SELECT id, body FROM deliveries;
ALTER TABLE deliveries DROP COLUMN body;
