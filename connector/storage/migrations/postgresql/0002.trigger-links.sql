-- depends: 0001.initial
-- Trigger links (issue 12), as in the SQLite schema: flags INTEGER 0/1, JSON as TEXT, times
-- DOUBLE PRECISION (Unix seconds), so `connector copy-data` copies rows column for column.
CREATE TABLE links (
    slug TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    destination TEXT NOT NULL,
    link_values TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    fallback_url TEXT,
    origin TEXT NOT NULL DEFAULT 'api',
    config_digest TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
