-- depends: 0006.delivery-bodies
-- A delivery delivered at its first attempt gets no attempts row from now on: its own row
-- holds that attempt (attempts = 1, first_attempt_at, last_status and, new here,
-- last_duration_ms); connector/storage/attempt_history.py says why (a random index page
-- per delivery). attempt_history shows every attempt either way: rows from before this
-- migration keep their attempts row, which the view prefers. A replay turns a delivered
-- row back to pending and rewrites those columns, so the trigger first moves that attempt
-- into attempts.
ALTER TABLE deliveries ADD COLUMN last_duration_ms DOUBLE PRECISION;
CREATE VIEW attempt_history AS
SELECT delivery_id, attempt, at, outcome, status_code, error, duration_ms FROM attempts
UNION ALL
SELECT id, 1, first_attempt_at, status, last_status, last_error, last_duration_ms
FROM deliveries d WHERE status = 'delivered' AND attempts = 1
AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id);
CREATE FUNCTION attempt_history_keep_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = OLD.id) THEN
        INSERT INTO attempts (delivery_id, attempt, at, outcome, status_code, error, duration_ms)
        VALUES (OLD.id, 1, OLD.first_attempt_at, OLD.status, OLD.last_status, OLD.last_error,
                OLD.last_duration_ms);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_history_keeps_first AFTER UPDATE OF status ON deliveries FOR EACH ROW
WHEN (OLD.status = 'delivered' AND NEW.status <> 'delivered' AND OLD.attempts = 1)
EXECUTE FUNCTION attempt_history_keep_first();
