-- SLO violations (SLA-MATH.md "SLO tiers, error budgets, credits"; seeds/002): written by the
-- worker's SLO evaluation, read by the SLO API, notifications and the monthly report's credits
-- (a violation lasting 4 h or more adds 5 %). One open violation per service and SLO; its severity
-- is the highest reached while it lasted.
CREATE TABLE slo_violations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id   text NOT NULL REFERENCES services (id),
    slo          text NOT NULL CHECK (length(slo) BETWEEN 1 AND 64),
                 -- availability | latency_p50 | latency_p95 | latency_p99 | error_rate | error_rate_4xx
                 -- | error_rate_5xx | burn_rate_fast | burn_rate_slow
    severity     text NOT NULL CHECK (severity IN ('WARNING', 'CRITICAL')),
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,                 -- NULL while open
    threshold    numeric NOT NULL,            -- the value the SLO was measured against
    worst_value  numeric,                     -- the worst value observed while open
    details      jsonb NOT NULL DEFAULT '{}',
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX slo_violations_one_open ON slo_violations (service_id, slo) WHERE ended_at IS NULL;
CREATE INDEX slo_violations_service_time ON slo_violations (service_id, started_at DESC);
CREATE INDEX slo_violations_started ON slo_violations (started_at DESC);
