-- The daily aggregate of checks without its real-time part (issue 16; docs/operations.md, "Rollups").
--
-- Why. A continuous aggregate only materialises whole buckets, so the open day of the daily aggregate
-- is always its real-time part: every slot of the day since the watermark (72,000 for 50 services at
-- the end of a day), summed and joined with `services` on every read: 389-906 ms for the daily read of
-- 50 services x 10 days against 17-100 ms on the Apache path (benchmarks/README.md, bench_editions.py).
-- The hourly aggregate holds the same day in 24 rows per service, and its own real-time part is the
-- last hour's slots.
--
-- So the daily aggregate of checks is materialised-only, and its readers (app/rollups/caggs.py,
-- _past_watermark) sum the hourly rows of the days at or past its watermark themselves (the slots of
-- an hour that straddles a day boundary, in zones whose days start at :30 or :45 UTC). Reads stay
-- exact whatever the refresh lag: the same slots, summed through one more level. The daily usage
-- aggregate keeps its real-time part (there is no hourly level of API calls).
--
-- Existing databases: the aggregate is altered in place (no data moves); the function that creates
-- the daily aggregates again on a change of SLAMON_TIMEZONE creates it the same way.

ALTER MATERIALIZED VIEW cagg_checks_daily SET (timescaledb.materialized_only = true);

-- As in 092_caggs_slots_alone.sql, but for `materialized_only` of cagg_checks_daily.
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
WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT s.service_id,
       time_bucket(INTERVAL '1 day', s.ts, %1$L) AS bucket,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots,
       coalesce(sum(v.interval_s) FILTER (WHERE NOT s.ok), 0)::bigint AS downtime_s,
       count(*) FILTER (WHERE s.ok AND s.latency_ms > v.latency_target_ms)::int AS over_target,
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
       count(*) FILTER (WHERE s.ok AND s.latency_ms < 30000)::int AS lat_lt_30000,
       min(v.interval_s) AS applied_interval_s,
       min(v.latency_target_ms) AS applied_latency_target_ms
FROM cagg_check_slots s
JOIN services v ON v.id = s.service_id
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
    -- Refresh policies: see 090_caggs.sql on offsets, 091_caggs_one_pass.sql on batches (set through
    -- the job's config, which every release takes; the argument exists since 2.25 only).
    PERFORM add_continuous_aggregate_policy('cagg_checks_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
    PERFORM add_continuous_aggregate_policy('cagg_usage_daily', start_offset => INTERVAL '3 days',
        end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
    PERFORM alter_job(j.job_id, config => j.config || '{"buckets_per_batch": 0}'::jsonb)
    FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'policy_refresh_continuous_aggregate';
    INSERT INTO rollup_caggs (rollup, timezone) VALUES ('checks_daily', zone), ('usage_daily', zone)
    ON CONFLICT (rollup) DO UPDATE SET timezone = EXCLUDED.timezone, created_at = now();
END
$fn$;
