-- The first level of each rollup hierarchy, on the Apache edition: the same levels the Timescale
-- License edition keeps as continuous aggregates (sql/tsl/090_caggs.sql), so both editions share one
-- hierarchy (docs/architecture.md, "Rollups"):
--   checks    -> rollup_check_slots (one row per slot)    -> rollup_checks_hourly (UTC), rollup_checks_daily (zone)
--   api_calls -> rollup_usage_minutes (1-minute buckets)  -> rollup_usage_daily (zone)
-- The refresh (app/rollups/service.py) brings the first level up to the watermark from raw rows, then
-- the second levels from the first, for the ranges that changed only. A slot's verdict (the majority
-- of its regions) is decided once, when its raw rows are settled, instead of again for every bucket
-- and every level; a late write recomputes its slots and then the buckets holding them from slots.
-- Days are cut from the first level, not from hours, so that zones with :30 and :45 offsets
-- (Asia/Kolkata, Asia/Kathmandu, Australia/Lord_Howe) get exact days.
-- Hypertables with the raw tables' 1-day chunks: raw retention drops their chunks at the same horizon
-- (app/retention/service.py).

CREATE TABLE rollup_check_slots (
    service_id  text NOT NULL,
    ts          timestamptz NOT NULL,
    ok          boolean NOT NULL,   -- a strict majority of the slot's regions succeeded
    latency_ms  integer,            -- lower median of the ok regions' latencies (NULL when none)
    PRIMARY KEY (service_id, ts)
);
SELECT create_hypertable('rollup_check_slots', by_range('ts', INTERVAL '1 day'));

-- The daily usage rollup's columns and key, per minute.
CREATE TABLE rollup_usage_minutes (LIKE rollup_usage_daily INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
SELECT create_hypertable('rollup_usage_minutes', by_range('bucket', INTERVAL '1 day'));

-- Existing second levels stay as they are: they equal aggregates of these levels. The next refresh
-- fills the first levels from raw rows (once, from the oldest row) and advances from there.
