-- depends: 0001.initial
-- Click reports (issue 12), as in the SQLite schema (see its 0003.reports.sql): keys are
-- COLLATE "C" so paging by key sorts as SQLite does; counts INTEGER, times DOUBLE PRECISION.
CREATE TABLE report_totals (
    subject TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    contacts INTEGER NOT NULL DEFAULT 0,
    human_immediate INTEGER NOT NULL DEFAULT 0,
    human_settled INTEGER NOT NULL DEFAULT 0,
    suspected_immediate INTEGER NOT NULL DEFAULT 0,
    suspected_settled INTEGER NOT NULL DEFAULT 0,
    first_at DOUBLE PRECISION,
    last_at DOUBLE PRECISION,
    PRIMARY KEY (subject, key)
);
CREATE TABLE report_contacts (
    subject TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    recipient TEXT COLLATE "C" NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    human_clicks INTEGER NOT NULL DEFAULT 0,
    first_at DOUBLE PRECISION NOT NULL,
    last_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (subject, key, recipient)
);
CREATE TABLE report_hours (
    subject TEXT COLLATE "C" NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    start BIGINT NOT NULL,
    clicks INTEGER NOT NULL DEFAULT 0,
    human INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, key, start)
);
CREATE TABLE report_unsettled (
    event_id TEXT PRIMARY KEY,
    suspected INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
