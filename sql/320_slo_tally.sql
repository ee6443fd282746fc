-- SLO figures the evaluation keeps (app/slo/tally.py, docs/operations.md "Kept figures"), so that its
-- per-minute work is proportional to what was written since its last run, not to the windows and the
-- month: only the SLO job (workers/slo.py, incremental sweep) writes these, under its lock. Anything
-- it cannot prove unchanged (a configuration or maintenance change, a late write before a boundary)
-- is recomputed from raw rows for the one service concerned.

-- Complete 5-minute measurements (buckets aligned like time_bucket's, slots and calls outside
-- maintenance) of the last hours: the violation rules' series and the burn windows' inner part.
CREATE TABLE slo_tally_buckets (
    service_id  text NOT NULL,
    bucket      timestamptz NOT NULL,
    slots       integer NOT NULL,
    bad_slots   integer NOT NULL,
    calls       integer NOT NULL,
    errors      integer NOT NULL,   -- status outside 200-399
    c5xx        integer NOT NULL,
    c4xx        integer NOT NULL,
    ge_p50      integer NOT NULL,   -- calls with latency >= the service's P50 target when computed
    ge_p95      integer NOT NULL,
    ge_p99      integer NOT NULL,
    p50         integer,            -- nearest-rank percentiles of the bucket's calls (NULL: none)
    p95         integer,
    p99         integer,
    PRIMARY KEY (service_id, bucket)
);

-- Per service: the month's call figures up to `calls_to` (period_start: the reporting month they
-- count), the nearest-rank percentiles of those calls with how many calls lie below each, and the
-- end of the complete buckets kept above.
CREATE TABLE slo_tally (
    service_id    text PRIMARY KEY,
    buckets_to    timestamptz NOT NULL,
    period_start  timestamptz NOT NULL,
    calls_to      timestamptz NOT NULL,
    calls         integer NOT NULL,
    errors        integer NOT NULL,
    c5xx          integer NOT NULL,
    c4xx          integer NOT NULL,
    ge_p50        integer NOT NULL,
    ge_p95        integer NOT NULL,
    ge_p99        integer NOT NULL,
    p50           integer,
    below_p50     integer NOT NULL,
    p95           integer,
    below_p95     integer NOT NULL,
    p99           integer,
    below_p99     integer NOT NULL
);

-- The exact latencies of the calls counted in slo_tally (its month, before calls_to): how many
-- calls took each latency. A percentile moves along it by a few values a minute.
CREATE TABLE slo_tally_latencies (
    service_id  text NOT NULL,
    latency_ms  integer NOT NULL,
    n           integer NOT NULL,
    PRIMARY KEY (service_id, latency_ms)
);
