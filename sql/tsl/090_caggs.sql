-- Rollups as continuous aggregates: Timescale License edition only. app/db.py applies the files of
-- sql/tsl/ when `SHOW timescaledb.license` says 'timescale' (they are never recorded, never run, on
-- 'apache'). Written for TimescaleDB 2.19 from its documentation; the Apache build this project is
-- tested on refuses `WITH (timescaledb.continuous)`, so only the SELECTs below are run by the test
-- suite there (tests/app/rollups/test_caggs.py), against the Apache rollups.
--
-- The same figures as 004_rollups.sql (app/rollups/queries.py CHECKS_BUCKETS, USAGE_BUCKETS), built
-- as hierarchical continuous aggregates:
--   checks    -> cagg_check_slots (one row per slot)  -> cagg_checks_hourly (UTC), cagg_checks_daily (zone)
--   api_calls -> cagg_usage_minutes (1-minute buckets) -> cagg_usage_daily (zone)
-- Days are cut from the first level, not from hourly buckets, so that zones with :30 and :45 offsets
-- (Asia/Kolkata, Asia/Kathmandu) get exact days; a 1-minute first level serves every zone in use.
--
-- Rules taken from the docs ("Understand continuous aggregates", "Function support" and "JOIN
-- support"; "Continuous aggregates on continuous aggregates"):
-- * Since 2.7 a (finalized) continuous aggregate accepts every PostgreSQL aggregate, ordered-set
--   aggregates and FILTER included, so the slot rule keeps its exact form: ok when a strict majority
--   of the regions succeeded, latency the lower median, percentile_disc(0.5) WITHIN GROUP ... FILTER.
-- * Since 2.10 a continuous aggregate may INNER JOIN one hypertable with a plain table on equality;
--   a hierarchical one may sit on top of such a join but may not join itself. So the first levels
--   join `services` (interval, latency target) and the second levels only sum. Changes to `services`
--   are not tracked by TimescaleDB: app/services logs them in rollup_invalidations (as on 'apache')
--   and the refresh (app/rollups/caggs.py) re-materialises those ranges with `force => true`.
-- * A variable-width bucket (a day in a time zone) may sit on a fixed-width one, never the reverse;
--   widths must be multiples of the parent's (1 day of 1 s, 1 hour of 1 s, 1 day of 1 minute).
-- * Real-time aggregation is off by default since 2.13: every view sets materialized_only = false.
-- * Slots are whole seconds (the ingest writer truncates ts), so time_bucket('1 second', ts) is the
--   slot itself, as CHECK_SLOTS groups by ts.

CREATE MATERIALIZED VIEW cagg_check_slots
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT c.service_id,
       time_bucket(INTERVAL '1 second', c.ts) AS ts,
       count(*) FILTER (WHERE c.ok) * 2 > count(*) AS ok,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY c.latency_ms) FILTER (WHERE c.ok) AS latency_ms,
       min(v.interval_s) AS interval_s,
       min(v.latency_target_ms) AS latency_target_ms
FROM checks c
JOIN services v ON v.id = c.service_id
GROUP BY c.service_id, time_bucket(INTERVAL '1 second', c.ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW cagg_checks_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT s.service_id,
       time_bucket(INTERVAL '1 hour', s.ts) AS bucket,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots,
       coalesce(sum(s.interval_s) FILTER (WHERE NOT s.ok), 0)::bigint AS downtime_s,
       count(*) FILTER (WHERE s.ok AND s.latency_ms > s.latency_target_ms)::int AS over_target,
       count(s.latency_ms) FILTER (WHERE s.ok)::int AS latency_count,
       sum(s.latency_ms) FILTER (WHERE s.ok)::bigint AS latency_sum_ms,
       min(s.latency_ms) FILTER (WHERE s.ok) AS latency_min_ms,
       max(s.latency_ms) FILTER (WHERE s.ok) AS latency_max_ms,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 50)::int AS lat_lt_50,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 100)::int AS lat_lt_100,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 200)::int AS lat_lt_200,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 300)::int AS lat_lt_300,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 500)::int AS lat_lt_500,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 1000)::int AS lat_lt_1000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 2000)::int AS lat_lt_2000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 3000)::int AS lat_lt_3000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 5000)::int AS lat_lt_5000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 7000)::int AS lat_lt_7000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 10000)::int AS lat_lt_10000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 15000)::int AS lat_lt_15000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 30000)::int AS lat_lt_30000
FROM cagg_check_slots s
GROUP BY s.service_id, time_bucket(INTERVAL '1 hour', s.ts)
WITH NO DATA;

CREATE MATERIALIZED VIEW cagg_usage_minutes
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT c.service_id,
       time_bucket(INTERVAL '1 minute', c.ts) AS bucket,
       count(*)::int AS calls,
       count(*) FILTER (WHERE c.status_code = 200)::int AS ok_200,
       count(*) FILTER (WHERE c.status_code <> 200)::int AS errors,
       count(*) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS c4xx,
       count(*) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS c5xx,
       count(*) FILTER (WHERE c.latency_ms > v.latency_target_ms)::int AS over_target,
       sum(c.latency_ms)::bigint AS latency_sum_ms,
       min(c.latency_ms) AS latency_min_ms,
       max(c.latency_ms) AS latency_max_ms,
       count(*) FILTER (WHERE c.latency_ms < 50)::int AS lat_lt_50,
       count(*) FILTER (WHERE c.latency_ms < 100)::int AS lat_lt_100,
       count(*) FILTER (WHERE c.latency_ms < 200)::int AS lat_lt_200,
       count(*) FILTER (WHERE c.latency_ms < 300)::int AS lat_lt_300,
       count(*) FILTER (WHERE c.latency_ms < 500)::int AS lat_lt_500,
       count(*) FILTER (WHERE c.latency_ms < 1000)::int AS lat_lt_1000,
       count(*) FILTER (WHERE c.latency_ms < 2000)::int AS lat_lt_2000,
       count(*) FILTER (WHERE c.latency_ms < 3000)::int AS lat_lt_3000,
       count(*) FILTER (WHERE c.latency_ms < 5000)::int AS lat_lt_5000,
       count(*) FILTER (WHERE c.latency_ms < 7000)::int AS lat_lt_7000,
       count(*) FILTER (WHERE c.latency_ms < 10000)::int AS lat_lt_10000,
       count(*) FILTER (WHERE c.latency_ms < 15000)::int AS lat_lt_15000,
       count(*) FILTER (WHERE c.latency_ms < 30000)::int AS lat_lt_30000
FROM api_calls c
JOIN services v ON v.id = c.service_id
GROUP BY c.service_id, time_bucket(INTERVAL '1 minute', c.ts)
WITH NO DATA;

-- The zone the daily aggregates are cut in. SLAMON_TIMEZONE is not known to SQL: they start in UTC
-- and the refresh recreates them when the setting differs (readers meanwhile aggregate the first
-- level in the requested zone, so a read is exact before, during and after the change).
CREATE TABLE rollup_caggs (
    rollup      text PRIMARY KEY CHECK (rollup IN ('checks_daily', 'usage_daily')),
    timezone    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- (Re)creates the daily aggregates cut in `zone`, empty: the caller refreshes them from the first
-- level, which keeps every slot and minute even after retention dropped their raw rows. The zone is
-- a literal of the view definition (time_bucket arguments must be constants), quoted by format %L.
CREATE FUNCTION rollup_create_daily_caggs(zone text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
        RAISE EXCEPTION 'unknown time zone %', zone USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DROP MATERIALIZED VIEW IF EXISTS cagg_checks_daily;
    DROP MATERIALIZED VIEW IF EXISTS cagg_usage_daily;
    EXECUTE format($ddl$
CREATE MATERIALIZED VIEW cagg_checks_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT s.service_id,
       time_bucket(INTERVAL '1 day', s.ts, %1$L) AS bucket,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots,
       coalesce(sum(s.interval_s) FILTER (WHERE NOT s.ok), 0)::bigint AS downtime_s,
       count(*) FILTER (WHERE s.ok AND s.latency_ms > s.latency_target_ms)::int AS over_target,
       count(s.latency_ms) FILTER (WHERE s.ok)::int AS latency_count,
       sum(s.latency_ms) FILTER (WHERE s.ok)::bigint AS latency_sum_ms,
       min(s.latency_ms) FILTER (WHERE s.ok) AS latency_min_ms,
       max(s.latency_ms) FILTER (WHERE s.ok) AS latency_max_ms,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 50)::int AS lat_lt_50,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 100)::int AS lat_lt_100,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 200)::int AS lat_lt_200,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 300)::int AS lat_lt_300,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 500)::int AS lat_lt_500,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 1000)::int AS lat_lt_1000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 2000)::int AS lat_lt_2000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 3000)::int AS lat_lt_3000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 5000)::int AS lat_lt_5000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 7000)::int AS lat_lt_7000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 10000)::int AS lat_lt_10000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 15000)::int AS lat_lt_15000,
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 30000)::int AS lat_lt_30000
FROM cagg_check_slots s
GROUP BY s.service_id, time_bucket(INTERVAL '1 day', s.ts, %1$L)
WITH NO DATA$ddl$, zone);
    EXECUTE format($ddl$
CREATE MATERIALIZED VIEW cagg_usage_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT m.service_id,
       time_bucket(INTERVAL '1 day', m.bucket, %1$L) AS bucket,
       sum(m.calls)::int AS calls,
       sum(m.ok_200)::int AS ok_200,
       sum(m.errors)::int AS errors,
       sum(m.c4xx)::int AS c4xx,
       sum(m.c5xx)::int AS c5xx,
       sum(m.over_target)::int AS over_target,
       sum(m.latency_sum_ms)::bigint AS latency_sum_ms,
       min(m.latency_min_ms) AS latency_min_ms,
       max(m.latency_max_ms) AS latency_max_ms,
       sum(m.lat_lt_50)::int AS lat_lt_50,
       sum(m.lat_lt_100)::int AS lat_lt_100,
       sum(m.lat_lt_200)::int AS lat_lt_200,
       sum(m.lat_lt_300)::int AS lat_lt_300,
       sum(m.lat_lt_500)::int AS lat_lt_500,
       sum(m.lat_lt_1000)::int AS lat_lt_1000,
       sum(m.lat_lt_2000)::int AS lat_lt_2000,
       sum(m.lat_lt_3000)::int AS lat_lt_3000,
       sum(m.lat_lt_5000)::int AS lat_lt_5000,
       sum(m.lat_lt_7000)::int AS lat_lt_7000,
       sum(m.lat_lt_10000)::int AS lat_lt_10000,
       sum(m.lat_lt_15000)::int AS lat_lt_15000,
       sum(m.lat_lt_30000)::int AS lat_lt_30000
FROM cagg_usage_minutes m
GROUP BY m.service_id, time_bucket(INTERVAL '1 day', m.bucket, %1$L)
WITH NO DATA$ddl$, zone);
    -- Refresh policies: see the note on offsets below.
    PERFORM add_continuous_aggregate_policy('cagg_checks_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
    PERFORM add_continuous_aggregate_policy('cagg_usage_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
    INSERT INTO rollup_caggs (rollup, timezone) VALUES ('checks_daily', zone), ('usage_daily', zone)
    ON CONFLICT (rollup) DO UPDATE SET timezone = EXCLUDED.timezone, created_at = now();
END
$fn$;

SELECT rollup_create_daily_caggs('UTC');

-- Refresh policies keep the aggregates materialised without the worker (docs: "Refresh continuous
-- aggregates", add_continuous_aggregate_policy). Their windows reach 3 days back, far inside the
-- shortest raw retention (SLAMON_RAW_RETENTION_DAYS >= 30): a refresh over dropped raw chunks would
-- delete the aggregated rows of those days (docs: "Data retention with continuous aggregates";
-- drop_chunks logs an invalidation for the dropped range). Older late writes are refreshed by the
-- worker from rollup_invalidations, with windows that start at raw_retention.dropped_before.
-- The newest minutes stay out of the materialisation; real-time aggregation serves them.
SELECT add_continuous_aggregate_policy('cagg_check_slots', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('cagg_usage_minutes', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('cagg_checks_hourly', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');

-- Raw chunks older than a week are compressed (docs: "Compression", add_compression_policy). The
-- unique keys the ingest writer relies on (ON CONFLICT DO NOTHING) must be covered by segmentby and
-- orderby columns; inserts into compressed chunks (late prober spools, replays) are supported since
-- 2.11. Retention stays app/retention's job: it archives maintenance slots and records the horizon
-- the refresh windows must not cross, which a retention policy would not.
ALTER TABLE checks SET (timescaledb.compress, timescaledb.compress_segmentby = 'service_id',
                        timescaledb.compress_orderby = 'ts DESC, region');
SELECT add_compression_policy('checks', compress_after => INTERVAL '7 days');
ALTER TABLE api_calls SET (timescaledb.compress, timescaledb.compress_segmentby = 'service_id',
                           timescaledb.compress_orderby = 'ts DESC, request_id');
SELECT add_compression_policy('api_calls', compress_after => INTERVAL '7 days');
