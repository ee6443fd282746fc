-- The notification scan (app/notifications/queries.py SCAN_SLO_VIOLATIONS) looks every 5 seconds for
-- violations that ended in the last horizon; without an index on ended_at that is a scan of every
-- violation ever recorded, a cost that grows with history (issue 18). Started ones use
-- slo_violations_started.
CREATE INDEX slo_violations_ended ON slo_violations (ended_at DESC) WHERE ended_at IS NOT NULL;
