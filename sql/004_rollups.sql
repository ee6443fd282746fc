-- Rollups, Apache-edition storage: the rollup SELECTs of app/rollups/queries.py materialised by the
-- incremental refresh (app/rollups/service.py). Readers union these with live aggregates of raw rows
-- past the watermark or in still-pending invalidations, so a read always equals a from-scratch
-- aggregate. With the Timescale License the same SELECTs become continuous aggregates instead.
--
-- Slots: a check slot is (service_id, ts) over all regions; it is ok when a strict majority of the
-- regions that reported it succeeded. Latency figures cover ok slots (the regions' lower median).
-- lat_lt_N counts ok slots (or calls) with latency < N ms: a cumulative latency histogram whose
-- bounds include every latency target of the SLA tiers, so "P95 < target" is decided exactly.

CREATE TABLE rollup_checks_hourly (
    service_id      text NOT NULL,
    bucket          timestamptz NOT NULL,
    slots           integer NOT NULL,
    ok_slots        integer NOT NULL,
    failed_slots    integer NOT NULL,
    downtime_s      bigint NOT NULL,
    over_target     integer NOT NULL,
    latency_count   integer NOT NULL,
    latency_sum_ms  bigint,
    latency_min_ms  integer,
    latency_max_ms  integer,
    lat_lt_50       integer NOT NULL,
    lat_lt_100      integer NOT NULL,
    lat_lt_200      integer NOT NULL,
    lat_lt_300      integer NOT NULL,
    lat_lt_500      integer NOT NULL,
    lat_lt_1000     integer NOT NULL,
    lat_lt_2000     integer NOT NULL,
    lat_lt_3000     integer NOT NULL,
    lat_lt_5000     integer NOT NULL,
    lat_lt_7000     integer NOT NULL,
    lat_lt_10000    integer NOT NULL,
    lat_lt_15000    integer NOT NULL,
    lat_lt_30000    integer NOT NULL,
    PRIMARY KEY (service_id, bucket)
);

CREATE TABLE rollup_checks_daily (
    service_id      text NOT NULL,
    bucket          timestamptz NOT NULL,
    slots           integer NOT NULL,
    ok_slots        integer NOT NULL,
    failed_slots    integer NOT NULL,
    downtime_s      bigint NOT NULL,
    over_target     integer NOT NULL,
    latency_count   integer NOT NULL,
    latency_sum_ms  bigint,
    latency_min_ms  integer,
    latency_max_ms  integer,
    lat_lt_50       integer NOT NULL,
    lat_lt_100      integer NOT NULL,
    lat_lt_200      integer NOT NULL,
    lat_lt_300      integer NOT NULL,
    lat_lt_500      integer NOT NULL,
    lat_lt_1000     integer NOT NULL,
    lat_lt_2000     integer NOT NULL,
    lat_lt_3000     integer NOT NULL,
    lat_lt_5000     integer NOT NULL,
    lat_lt_7000     integer NOT NULL,
    lat_lt_10000    integer NOT NULL,
    lat_lt_15000    integer NOT NULL,
    lat_lt_30000    integer NOT NULL,
    PRIMARY KEY (service_id, bucket)
);

CREATE TABLE rollup_usage_daily (
    service_id      text NOT NULL,
    bucket          timestamptz NOT NULL,
    calls           integer NOT NULL,
    ok_200          integer NOT NULL,
    errors          integer NOT NULL,
    c4xx            integer NOT NULL,
    c5xx            integer NOT NULL,
    over_target     integer NOT NULL,
    latency_sum_ms  bigint NOT NULL,
    latency_min_ms  integer,
    latency_max_ms  integer,
    lat_lt_50       integer NOT NULL,
    lat_lt_100      integer NOT NULL,
    lat_lt_200      integer NOT NULL,
    lat_lt_300      integer NOT NULL,
    lat_lt_500      integer NOT NULL,
    lat_lt_1000     integer NOT NULL,
    lat_lt_2000     integer NOT NULL,
    lat_lt_3000     integer NOT NULL,
    lat_lt_5000     integer NOT NULL,
    lat_lt_7000     integer NOT NULL,
    lat_lt_10000    integer NOT NULL,
    lat_lt_15000    integer NOT NULL,
    lat_lt_30000    integer NOT NULL,
    PRIMARY KEY (service_id, bucket)
);

-- Per rollup: everything strictly before the watermark is materialised (up to pending invalidations).
CREATE TABLE rollup_state (
    rollup        text PRIMARY KEY,
    watermark     timestamptz,            -- NULL: nothing materialised yet
    timezone      text NOT NULL,          -- the zone the buckets were cut in
    refreshed_at  timestamptz
);

-- The end of the bucket that starts at `bucket` (DST-safe for day buckets of 23-25 hours).
CREATE FUNCTION rollup_bucket_end(width interval, bucket timestamptz, tz text)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT time_bucket(width, bucket + width * 1.5, tz) $$;
