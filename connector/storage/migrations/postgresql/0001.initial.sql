-- Version 1 of the PostgreSQL schema: the tables, indexes and semantics of the SQLite schema
-- (sqlite.py SCHEMA, sqlite_scenarios.py SCENARIO_SCHEMA, sqlite_bots.py) in PostgreSQL's
-- types. yoyo splits this file into statements and applies them in one transaction.
--
-- Text compared with < and > or sorted (recipient keys paged in order, click ids breaking
-- ties) is COLLATE "C": byte order, as SQLite and Python compare, whatever the database's
-- locale. Times are DOUBLE PRECISION (Unix seconds). JSON documents that the Tx returns as
-- stored (decision, rule_ids) are TEXT, so their key order stays as written. Flags are
-- INTEGER 0/1 as in SQLite: `connector copy-data` copies rows column for column, and SQL
-- written against one backend reads the same on the other.

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    occurred_at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    payload BYTEA NOT NULL,
    raw BYTEA NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,
    decision TEXT,
    bot BYTEA,
    settle_at DOUBLE PRECISION,
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_pending ON events (seq) WHERE processed = 0;
CREATE INDEX events_unsettled ON events (settle_at)
    WHERE settled = 0 AND settle_at IS NOT NULL;
CREATE INDEX events_received ON events (received_at);

CREATE TABLE rejections (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    item_index INTEGER NOT NULL,
    reason TEXT NOT NULL,
    raw BYTEA NOT NULL
);
CREATE INDEX rejections_received ON rejections (received_at);

CREATE TABLE nonces (
    source TEXT NOT NULL,
    nonce TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (source, nonce)
);
CREATE INDEX nonces_seen ON nonces (seen_at);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    rule_ids TEXT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION,
    lease_until DOUBLE PRECISION,
    first_attempt_at DOUBLE PRECISION,
    last_status INTEGER,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_status ON deliveries (status, updated_at);
-- prune asks whether an event still has a pending delivery
CREATE INDEX deliveries_event ON deliveries (event_id) WHERE status = 'pending';

CREATE TABLE attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms DOUBLE PRECISION NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);

CREATE TABLE tasks (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    data BYTEA NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error TEXT
);
CREATE INDEX tasks_due ON tasks (next_attempt_at) WHERE status = 'pending';

-- the scenario engine ------------------------------------------------------------------
CREATE TABLE recipients (
    campaign_id TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    recipient TEXT COLLATE "C" NOT NULL,
    status TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    test INTEGER NOT NULL DEFAULT 0,
    data BYTEA NOT NULL,
    PRIMARY KEY (campaign_id, message_id, recipient)
);
-- a check streams a send's recipients in key order: each page is an index range
CREATE INDEX recipients_campaign ON recipients (campaign_id, recipient);
CREATE INDEX recipients_message ON recipients (message_id, recipient);
CREATE INDEX recipients_recipient ON recipients (recipient);
CREATE INDEX recipients_at ON recipients (at);

CREATE TABLE clicks (
    event_id TEXT PRIMARY KEY,
    recipient TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    campaign_id TEXT COLLATE "C" NOT NULL,
    canonical TEXT NOT NULL,
    system INTEGER NOT NULL,
    test INTEGER NOT NULL,
    occurred_at DOUBLE PRECISION NOT NULL,
    suspected INTEGER NOT NULL,
    settled INTEGER NOT NULL,
    settle_at DOUBLE PRECISION
);
CREATE INDEX clicks_campaign ON clicks (campaign_id, recipient);
CREATE INDEX clicks_message ON clicks (message_id, recipient);
CREATE INDEX clicks_recipient ON clicks (recipient);
CREATE INDEX clicks_occurred ON clicks (occurred_at);

CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    send_kind TEXT NOT NULL,
    send_id TEXT NOT NULL,
    recipient TEXT,
    due_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    origin TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    fired_at DOUBLE PRECISION,
    cursor TEXT,
    emitted INTEGER NOT NULL DEFAULT 0,
    data BYTEA NOT NULL,
    started_at DOUBLE PRECISION
);
CREATE INDEX timers_due ON timers (due_at) WHERE status = 'pending';
CREATE INDEX timers_waiting ON timers (rule_id, recipient, send_id)
    WHERE kind = 'wait' AND status = 'pending';
CREATE INDEX timers_send ON timers (send_kind, send_id);

CREATE TABLE entries (
    key TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    entered_at DOUBLE PRECISION NOT NULL
);

-- the bot detector's evidence (no change counter: PgBotState reads SQL, keeps no mirror) -
CREATE TABLE bot_deliveries (
    message_key TEXT NOT NULL,
    occurred DOUBLE PRECISION NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (message_key, occurred)
);
CREATE INDEX bot_deliveries_received ON bot_deliveries (received);

CREATE TABLE bot_clicks (
    event_id TEXT COLLATE "C" PRIMARY KEY,
    message_key TEXT NOT NULL,
    link_key TEXT NOT NULL,
    recipient_key TEXT NOT NULL,
    ip TEXT NOT NULL,
    network TEXT NOT NULL,
    occurred DOUBLE PRECISION NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    evidence INTEGER NOT NULL
);
CREATE INDEX bot_clicks_message ON bot_clicks (message_key, occurred);
CREATE INDEX bot_clicks_ip ON bot_clicks (ip, occurred);
CREATE INDEX bot_clicks_received ON bot_clicks (received);
