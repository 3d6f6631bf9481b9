-- depends: 0001.initial
-- The dashboard's views (view_records.py). events (source, seq): a source's page of events
-- newest first, its last event and its count since a moment each read one index range;
-- rejections (source, received_at): a source's recent rejections and the last reason.
CREATE INDEX IF NOT EXISTS events_source_seq ON events (source, seq);
CREATE INDEX IF NOT EXISTS rejections_source_received ON rejections (source, received_at);
