-- The daily check rollup's slot figures packed per service and UTC month: what the 90-day status grid
-- reads (app/rollups/service.py, read_slot_arrays), about 200 rows for 50 services instead of 4,500
-- rows aggregated into arrays on every request. Each column holds the month's values in bucket order
-- as big-endian binary integers (int4send/int8send concatenated), which the reader turns into lists
-- in C (array.array) instead of decoding 27,000 array elements one by one.
-- Kept equal to rollup_checks_daily by the statement triggers below, in the writing transaction, for
-- every writer (the refresh, a recut, a manual TRUNCATE): a pack is rebuilt from the table for each
-- (service, month) a statement touched.
CREATE TABLE rollup_checks_daily_packs (
    service_id    text NOT NULL,
    month         timestamptz NOT NULL,  -- date_trunc('month', bucket, 'UTC') of every bucket in it
    bucket_epochs bytea NOT NULL,        -- bucket starts, Unix seconds (int8), ascending
    slots         bytea NOT NULL,        -- int4 each
    ok_slots      bytea NOT NULL,        -- int4 each
    failed_slots  bytea NOT NULL,        -- int4 each
    downtime_s    bytea NOT NULL,        -- int8 each
    PRIMARY KEY (service_id, month)
);

CREATE FUNCTION repack_rollup_checks_daily(ids text[], months timestamptz[]) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM rollup_checks_daily_packs p
    USING unnest(ids, months) AS k(service_id, month)
    WHERE p.service_id = k.service_id AND p.month = k.month;
    INSERT INTO rollup_checks_daily_packs (service_id, month, bucket_epochs, slots, ok_slots, failed_slots, downtime_s)
    SELECT d.service_id, k.month,
           string_agg(int8send(date_part('epoch', d.bucket)::bigint), '' ORDER BY d.bucket),
           string_agg(int4send(d.slots), '' ORDER BY d.bucket), string_agg(int4send(d.ok_slots), '' ORDER BY d.bucket),
           string_agg(int4send(d.failed_slots), '' ORDER BY d.bucket),
           string_agg(int8send(d.downtime_s), '' ORDER BY d.bucket)
    FROM unnest(ids, months) AS k(service_id, month)
    JOIN rollup_checks_daily d
      ON d.service_id = k.service_id AND d.bucket >= k.month
     AND d.bucket < ((k.month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    GROUP BY d.service_id, k.month;
$$;

-- Transition tables name the rows a statement wrote: old_rows (DELETE, UPDATE), new_rows (INSERT,
-- UPDATE). Each branch names only its own, so it is planned only when its event fires.
CREATE FUNCTION rollup_checks_daily_repack() RETURNS trigger LANGUAGE plpgsql AS $$
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
        SELECT array_agg(service_id), array_agg(month) INTO ids, months
        FROM (SELECT service_id, date_trunc('month', bucket, 'UTC') AS month FROM old_rows
              UNION
              SELECT service_id, date_trunc('month', bucket, 'UTC') FROM new_rows) k;
    END IF;
    IF ids IS NOT NULL THEN
        PERFORM repack_rollup_checks_daily(ids, months);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION rollup_checks_daily_unpack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE rollup_checks_daily_packs;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_checks_daily_packs_insert AFTER INSERT ON rollup_checks_daily
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_checks_daily_repack();
CREATE TRIGGER rollup_checks_daily_packs_delete AFTER DELETE ON rollup_checks_daily
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rollup_checks_daily_repack();
CREATE TRIGGER rollup_checks_daily_packs_update AFTER UPDATE ON rollup_checks_daily
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_checks_daily_repack();
CREATE TRIGGER rollup_checks_daily_packs_truncate AFTER TRUNCATE ON rollup_checks_daily
    FOR EACH STATEMENT EXECUTE FUNCTION rollup_checks_daily_unpack();

SELECT repack_rollup_checks_daily(array_agg(service_id), array_agg(month))
FROM (SELECT DISTINCT service_id, date_trunc('month', bucket, 'UTC') AS month FROM rollup_checks_daily) k
HAVING count(*) > 0;
