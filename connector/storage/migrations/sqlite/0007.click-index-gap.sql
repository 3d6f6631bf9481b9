-- depends: 0004.views
-- The scenario engine's click index is written only while a check rule (clicked_by,
-- not_clicked) could read it; a processor without one records here, once, that the index
-- lacks clicks from then on, and the first processor with one fills it from the stored
-- events before any check fires (connector/pipeline/click_index.py).
CREATE TABLE IF NOT EXISTS scenario_state (
    name TEXT PRIMARY KEY,
    value REAL NOT NULL
) WITHOUT ROWID;
