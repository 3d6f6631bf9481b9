-- depends: 0001.initial
-- Trigger links (issue 12): config `[[links]]` and links made through the admin API.
-- `link_values` is the JSON object of named values the destination template may use;
-- `config_digest` is the digest of the config entry last written, so an API edit of a
-- config link persists until the config entry itself changes.
CREATE TABLE links (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    destination TEXT NOT NULL,
    link_values TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    fallback_url TEXT,
    origin TEXT NOT NULL DEFAULT 'api',
    config_digest TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
