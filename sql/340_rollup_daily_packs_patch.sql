-- The daily packs (sql/085) rebuilt a (service, month) pack from the table for every row a statement
-- on rollup_checks_daily touched. The refresh's advance updates the open day of every service each
-- minute (ON CONFLICT DO UPDATE): it rebuilt every service's month, reading all its days so far, so
-- its cost grew through the month (10,000 services on the 3rd: ~0.5 s of a refresh; issue 16,
-- benchmarks/README.md session 12). An UPDATE that leaves a row's (service_id, bucket) as it was and
-- changes the last bucket of its month's pack (the open day) now overwrites that bucket's values at
-- the end of the pack in place; any other change (a bucket moved, an earlier day, several days of one
-- month in one statement, no pack yet) rebuilds the pack as before.
CREATE OR REPLACE FUNCTION rollup_checks_daily_repack() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids    text[];
    months timestamptz[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(service_id), array_agg(month) INTO ids, months
        FROM (SELECT DISTINCT service_id, date_trunc('month', bucket, 'UTC') AS month FROM new_rows) k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(service_id), array_agg(month) INTO ids, months
        FROM (SELECT DISTINCT service_id, date_trunc('month', bucket, 'UTC') AS month FROM old_rows) k;
    ELSE
        -- (service, month) pairs with one row before and after the statement, of the same bucket, the
        -- pack's last: its values are overwritten at the end of the pack
        WITH changed AS (  -- one aggregation of both transition tables: no join for the planner to misjudge
            SELECT service_id, month, count(*) FILTER (WHERE after) AS rows_after,
                   count(*) FILTER (WHERE NOT after) AS rows_before, min(bucket) AS bucket,
                   max(bucket) AS last_bucket, min(slots) AS slots, min(ok_slots) AS ok_slots,
                   min(failed_slots) AS failed_slots, min(downtime_s) AS downtime_s
            FROM (SELECT true AS after, service_id, date_trunc('month', bucket, 'UTC') AS month, bucket, slots,
                         ok_slots, failed_slots, downtime_s
                  FROM new_rows
                  UNION ALL
                  SELECT false, service_id, date_trunc('month', bucket, 'UTC'), bucket, NULL, NULL, NULL, NULL
                  FROM old_rows) r
            GROUP BY service_id, month
        ),
        patched AS (
            UPDATE rollup_checks_daily_packs p
            SET slots = overlay(p.slots PLACING int4send(c.slots) FROM length(p.slots) - 3),
                ok_slots = overlay(p.ok_slots PLACING int4send(c.ok_slots) FROM length(p.ok_slots) - 3),
                failed_slots = overlay(p.failed_slots PLACING int4send(c.failed_slots) FROM length(p.failed_slots) - 3),
                downtime_s = overlay(p.downtime_s PLACING int8send(c.downtime_s) FROM length(p.downtime_s) - 7)
            FROM changed c
            WHERE c.rows_after = 1 AND c.rows_before = 1 AND c.bucket = c.last_bucket
              AND p.service_id = c.service_id AND p.month = c.month
              AND substring(p.bucket_epochs FROM length(p.bucket_epochs) - 7)
                  = int8send(date_part('epoch', c.bucket)::bigint)
            RETURNING p.service_id, p.month
        )
        SELECT array_agg(service_id), array_agg(month) INTO ids, months
        FROM (SELECT service_id, month FROM changed EXCEPT SELECT service_id, month FROM patched) k;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM repack_rollup_checks_daily(ids, months);
    END IF;
    RETURN NULL;
END
$$;
