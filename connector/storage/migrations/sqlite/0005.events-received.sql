-- depends: 0004.views
-- events_received (received_at) goes: every stored event paid one more index entry (about
-- a WAL page per group commit, 2.2 us of writer CPU a row: bench/README.md, "Trigger-link
-- redirect"). Its two readers walk `seq`, which follows arrival: retention's prune from the
-- oldest row, the dashboard's "since" count from a source's newest (events_source_seq).
DROP INDEX IF EXISTS events_received;
