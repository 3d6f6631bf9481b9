-- depends: 0004.views
-- events_received becomes a BRIN index: as on SQLite (its migration 0005 drops the index), an
-- event no longer pays a B-tree entry for received_at, while retention's prune keeps a plan
-- that skips newer block ranges: rows are appended in about received_at order (replicas
-- stamp and insert concurrently, so only about; BRIN needs no more). Autovacuum summarises
-- each filled range. The dashboard's "since" count walks a source's seq (postgres_views.py).
DROP INDEX IF EXISTS events_received;
CREATE INDEX events_received_brin ON events USING brin (received_at)
    WITH (autosummarize = on);
