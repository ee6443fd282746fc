-- Continuous aggregates as verified on real Timescale License servers (docs/operations.md, Rollups).
--
-- * Batches. Refresh policies run in batches of 10 buckets by default since 2.25.0 (#9031), manual
--   refreshes too since 2.28.0; on the first level's 1-second buckets that is one batch, one
--   transaction and one log line per 10 seconds of data (a 4-day refresh: 34,560 batches). Every
--   refresh is one pass instead: buckets_per_batch = 0 on every policy here, and app/rollups/caggs.py
--   passes the same option to refresh_continuous_aggregate where the server has it (before 2.28 it has
--   no `options` argument and does not batch manual refreshes).
-- * DROP. TimescaleDB 2.19 refuses a second `DROP MATERIALIZED VIEW` of a continuous aggregate inside a
--   plpgsql function in the same session ("cannot drop continuous aggregate using DROP VIEW"), which
--   broke every later change of SLAMON_TIMEZONE. The function now only creates; the refresh drops the
--   daily aggregates with top-level statements first (app/rollups/caggs.py, _follow_zone).

SELECT alter_job(j.job_id, config => j.config || '{"buckets_per_batch": 0}'::jsonb)
FROM timescaledb_information.jobs j
WHERE j.proc_name = 'policy_refresh_continuous_aggregate';

CREATE OR REPLACE FUNCTION rollup_create_daily_caggs(zone text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
        RAISE EXCEPTION 'unknown time zone %', zone USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_regclass('cagg_checks_daily') IS NOT NULL OR to_regclass('cagg_usage_daily') IS NOT NULL THEN
        RAISE EXCEPTION 'drop the daily aggregates first (app/rollups/caggs.py DROP_DAILY)'
            USING ERRCODE = 'object_in_use';
    END IF;
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
    -- Refresh policies: see 090_caggs.sql on offsets, and above on batches.
    PERFORM add_continuous_aggregate_policy('cagg_checks_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', buckets_per_batch => 0);
    PERFORM add_continuous_aggregate_policy('cagg_usage_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', buckets_per_batch => 0);
    INSERT INTO rollup_caggs (rollup, timezone) VALUES ('checks_daily', zone), ('usage_daily', zone)
    ON CONFLICT (rollup) DO UPDATE SET timezone = EXCLUDED.timezone, created_at = now();
END
$fn$;
