-- depends: 0001.initial
-- The dashboard's source health (view_records.py): the last event and the counts of one
-- source since a moment read one index range instead of the whole table.
CREATE INDEX IF NOT EXISTS events_source_received ON events (source, received_at);
CREATE INDEX IF NOT EXISTS rejections_source_received ON rejections (source, received_at);
