-- Forecast alerts (docs/sla-math.md "Forecasts", issue 21): an SLO of a service whose error budget
-- is forecast to run out within the horizon (24 h) at the month's or the last 7 days' burn, or to be
-- missed with at least the set probability. Opened and closed by the worker's forecast cron
-- (workers/forecast.py) from what the forecasts say now, one open alert per service and SLO; an
-- alert belongs to its month and closes when the month ends. The notification scan turns openings
-- and closings into slo_forecast.opened / slo_forecast.closed events.
CREATE TABLE slo_forecast_alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id       text NOT NULL REFERENCES services (id),
    slo              text NOT NULL CHECK (length(slo) BETWEEN 1 AND 64),
    period           text NOT NULL CHECK (length(period) BETWEEN 1 AND 16),  -- the month, YYYY-MM
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,                                          -- NULL while open
    reasons          text[] NOT NULL CHECK (cardinality(reasons) > 0),
                     -- exhaustion_current_burn | exhaustion_recent_burn | miss_probability
    exhausts_at      timestamptz,       -- the earliest forecast exhaustion when it opened
    miss_probability numeric CHECK (miss_probability BETWEEN 0 AND 1),
    details          jsonb NOT NULL DEFAULT '{}',
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE UNIQUE INDEX slo_forecast_alerts_one_open ON slo_forecast_alerts (service_id, slo) WHERE closed_at IS NULL;
CREATE INDEX slo_forecast_alerts_service_time ON slo_forecast_alerts (service_id, opened_at DESC);
-- The notification scan looks for alerts opened or closed within its horizon (as slo_violations).
CREATE INDEX slo_forecast_alerts_opened ON slo_forecast_alerts (opened_at DESC);
CREATE INDEX slo_forecast_alerts_closed ON slo_forecast_alerts (closed_at DESC) WHERE closed_at IS NOT NULL;
