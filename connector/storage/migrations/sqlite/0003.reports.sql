-- depends: 0001.initial
-- Click reports (issue 12): aggregates the processor keeps as it indexes and settles clicks
-- (connector/storage/report_sql.py), so a report page reads a primary-key range. A subject
-- is link (canonical URL), trigger (slug), campaign or message; `key` is its id. Hours are
-- Unix seconds at the start of the hour. `report_unsettled` holds a click's immediate
-- verdict until its settled one is counted.
CREATE TABLE IF NOT EXISTS report_totals (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    contacts INTEGER NOT NULL DEFAULT 0,
    human_immediate INTEGER NOT NULL DEFAULT 0,
    human_settled INTEGER NOT NULL DEFAULT 0,
    suspected_immediate INTEGER NOT NULL DEFAULT 0,
    suspected_settled INTEGER NOT NULL DEFAULT 0,
    first_at REAL,
    last_at REAL,
    PRIMARY KEY (subject, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_contacts (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    human_clicks INTEGER NOT NULL DEFAULT 0,
    first_at REAL NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (subject, key, recipient)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_hours (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    start INTEGER NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    human INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, key, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_unsettled (
    event_id TEXT PRIMARY KEY,
    suspected INTEGER NOT NULL,
    at REAL NOT NULL
) WITHOUT ROWID;
