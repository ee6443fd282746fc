-- The violation rules' state the incremental SLO evaluation keeps (app/slo/tally.py `verdicts`,
-- docs/operations.md "Kept figures"), so that a measurement completing is judged by itself, not with
-- the 7 hours of measurements before it: per service, each rule's fold of its measurements up to
-- `judged_to` (the end of the kept buckets taken in): the newest measurement, the trailing run of
-- measurements beyond the WARNING threshold (start, length, how many of its newest are beyond the
-- CRITICAL one, worst value), the newest breaching measurement, and the thresholds it was folded
-- with. Written by the SLO job only, under the kept figures' lock; dropped when the kept buckets it
-- took in are recomputed.
CREATE TABLE slo_tally_runs (
    service_id  text PRIMARY KEY,
    judged_to   timestamptz NOT NULL,
    runs        jsonb NOT NULL
);
