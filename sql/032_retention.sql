-- Retention (workers/retention.py): raw chunks older than SLAMON_RAW_RETENTION_DAYS are dropped whole;
-- rollups are kept. `dropped_before` is the end of the newest dropped chunk: raw rows before it are
-- gone, so rollup buckets that start before it are final (the refresh never recomputes them, readers
-- never read them live), and so are the slots archived below.
CREATE TABLE raw_retention (
    raw_table       text PRIMARY KEY CHECK (raw_table IN ('checks', 'api_calls')),
    dropped_before  timestamptz NOT NULL,
    dropped_at      timestamptz NOT NULL DEFAULT now()
);

-- Slots that lay in a maintenance window of their service when their raw checks were dropped: the SLA
-- figures subtract them from the kept rollups, as they did while the raw rows existed (a window
-- created or widened afterwards over dropped days cannot take slots out any more).
CREATE TABLE maintenance_slots_archive (
    service_id  text NOT NULL,
    ts          timestamptz NOT NULL,
    ok          boolean NOT NULL,
    PRIMARY KEY (service_id, ts)
);
