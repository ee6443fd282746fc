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
        WITH changed AS (
            SELECT service_id, date_trunc('month', bucket, 'UTC') AS month, count(*) AS rows_in_month,
                   min(bucket) AS bucket, min(slots) AS slots, min(ok_slots) AS ok_slots,
                   min(failed_slots) AS failed_slots, min(downtime_s) AS downtime_s
            FROM new_rows
            GROUP BY 1, 2
        ),
        was AS (
            SELECT service_id, date_trunc('month', bucket, 'UTC') AS month, count(*) AS rows_in_month,
                   min(bucket) AS bucket
            FROM old_rows
            GROUP BY 1, 2
        ),
        patched AS (
            UPDATE rollup_checks_daily_packs p
            SET slots = overlay(p.slots PLACING int4send(c.slots) FROM length(p.slots) - 3),
                ok_slots = overlay(p.ok_slots PLACING int4send(c.ok_slots) FROM length(p.ok_slots) - 3),
                failed_slots = overlay(p.failed_slots PLACING int4send(c.failed_slots) FROM length(p.failed_slots) - 3),
                downtime_s = overlay(p.downtime_s PLACING int8send(c.downtime_s) FROM length(p.downtime_s) - 7)
            FROM changed c
            JOIN was w ON w.service_id = c.service_id AND w.month = c.month
            WHERE c.rows_in_month = 1 AND w.rows_in_month = 1 AND w.bucket = c.bucket
              AND p.service_id = c.service_id AND p.month = c.month
              AND substring(p.bucket_epochs FROM length(p.bucket_epochs) - 7)
                  = int8send(date_part('epoch', c.bucket)::bigint)
            RETURNING p.service_id, p.month
        )
        SELECT array_agg(service_id), array_agg(month) INTO ids, months
        FROM (SELECT service_id, date_trunc('month', bucket, 'UTC') AS month FROM old_rows
              UNION
              SELECT service_id, date_trunc('month', bucket, 'UTC') FROM new_rows
              EXCEPT
              SELECT service_id, month FROM patched) k;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM repack_rollup_checks_daily(ids, months);
    END IF;
    RETURN NULL;
END
$$;
