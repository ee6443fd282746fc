-- The first level of checks no longer reads `services` (issue 16; docs/operations.md, Rollups).
--
-- Why. A continuous aggregate is refreshed for every service of a time range at once, and TimescaleDB
-- does not track `services`. While the slots carried each service's interval and latency target, a
-- changed service (app/rollups/service.py invalidate_service) forced the first level — every slot of
-- every service, aggregated again from raw checks and written again — over the whole kept history:
-- 41x the Apache path on 10 days x 50 services (2.29.2), past the worker's job limit at 400 days.
--
-- Now the slot holds only what its raw rows decide (ok, latency), as on the Apache path (sql/200
-- rollup_check_slots), and the hourly and daily aggregates join `services` where they sum the slots
-- (downtime = the interval of each failed slot, over_target = ok slots slower than the target). Each
-- of their rows also keeps the interval and target it applied (applied_*). A changed service is then
-- no refresh at all: the worker rewrites the two figures of that service's rows whose applied_* differ
-- from `services`, from its stored slots (app/rollups/caggs.py RESTAMP: the rows and slots of one
-- service, like the Apache path), and readers read any row whose applied_* differ live from raw rows
-- meanwhile (also a row a refresh policy wrote from a snapshot older than the change). Rows before the
-- retention horizon keep what they applied, as on the Apache path (their raw rows are gone).
-- (API calls keep their first level and its forced refresh: a minute's over_target counts calls above
-- the target, which needs each call's latency, so the 1-minute level is the lowest that can apply it.)
--
-- Existing databases. The three aggregates of checks (and the daily usage one, which the function
-- below creates with the daily checks one) are dropped and created again, empty; the worker's next
-- refresh fills them, the first level from the raw rows it still has (one pass over the kept
-- history, as sql/200 on the Apache path). Slots whose raw rows retention already dropped cannot be
-- aggregated again: they are copied into the new first level's materialised rows, where its refresh
-- windows (which start at the retention horizon) never reach; they show once the next refresh has
-- set its watermark. Until that refresh, readers aggregate the raw rows live (exact), and days before
-- the retention horizon are missing. The second levels then sum those old slots with today's
-- interval and latency target.

CREATE TEMP TABLE kept_slots ON COMMIT DROP AS
SELECT s.service_id, s.ts, s.ok, s.latency_ms
FROM cagg_check_slots s
WHERE s.ts < (SELECT r.dropped_before FROM raw_retention r WHERE r.raw_table = 'checks');

DROP MATERIALIZED VIEW cagg_checks_daily;
DROP MATERIALIZED VIEW cagg_usage_daily;
DROP MATERIALIZED VIEW cagg_checks_hourly;
DROP MATERIALIZED VIEW cagg_check_slots;

CREATE MATERIALIZED VIEW cagg_check_slots
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT c.service_id,
       time_bucket(INTERVAL '1 second', c.ts) AS ts,
       count(*) FILTER (WHERE c.ok) * 2 > count(*) AS ok,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY c.latency_ms) FILTER (WHERE c.ok) AS latency_ms
FROM checks c
GROUP BY c.service_id, time_bucket(INTERVAL '1 second', c.ts)
WITH NO DATA;

DO $carry$
DECLARE
    mat text;
BEGIN
    SELECT format('%I.%I', a.materialization_hypertable_schema, a.materialization_hypertable_name) INTO mat
    FROM timescaledb_information.continuous_aggregates a WHERE a.view_name = 'cagg_check_slots';
    EXECUTE format('INSERT INTO %s (service_id, ts, ok, latency_ms) '
                   'SELECT service_id, ts, ok, latency_ms FROM kept_slots', mat);
END
$carry$;

CREATE MATERIALIZED VIEW cagg_checks_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT s.service_id,
       time_bucket(INTERVAL '1 hour', s.ts) AS bucket,
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
GROUP BY s.service_id, time_bucket(INTERVAL '1 hour', s.ts)
WITH NO DATA;

-- The policies of 090, in one pass (091).
SELECT add_continuous_aggregate_policy('cagg_check_slots', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('cagg_checks_hourly', start_offset => INTERVAL '3 days',
    end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '15 minutes');

-- The daily aggregates, as 091 creates them but for the join (and the batches set through the config).
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

SELECT rollup_create_daily_caggs((SELECT z.timezone FROM rollup_caggs z WHERE z.rollup = 'checks_daily'));
