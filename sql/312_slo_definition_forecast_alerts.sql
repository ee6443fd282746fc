-- Forecast alerts of the stored SLO definitions (docs/sla-math.md "Forecasts of SLO definitions",
-- issue 21), per definition and service it covers: as slo_forecast_alerts (sql/310), in a table of
-- their own so that a definition's name never meets a tier SLO's key. Opened and closed by the
-- forecast cron (workers/forecast.py, app/slo/definitions/forecast.py), one open alert per definition
-- and service; `period` is the calendar window's label (closes when it ends) or the rolling window's.
-- The notification scan turns openings and closings into slo_forecast.opened / .closed events.
CREATE TABLE slo_definition_forecast_alerts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    definition       text NOT NULL REFERENCES slo_definitions (name),
    service_id       text NOT NULL REFERENCES services (id),
    period           text NOT NULL CHECK (length(period) BETWEEN 1 AND 24),  -- 2025-08, 2025-W34, 28d rolling
    opened_at        timestamptz NOT NULL,
    closed_at        timestamptz,                                          -- NULL while open
    reasons          text[] NOT NULL CHECK (cardinality(reasons) > 0),
                     -- exhaustion_current_burn | exhaustion_recent_burn | miss_probability
    exhausts_at      timestamptz,       -- the earliest forecast exhaustion when it opened
    miss_probability numeric CHECK (miss_probability BETWEEN 0 AND 1),
    details          jsonb NOT NULL DEFAULT '{}',
    CHECK (closed_at IS NULL OR closed_at >= opened_at)
);
CREATE UNIQUE INDEX slo_definition_forecast_alerts_one_open
    ON slo_definition_forecast_alerts (definition, service_id) WHERE closed_at IS NULL;
CREATE INDEX slo_definition_forecast_alerts_opened ON slo_definition_forecast_alerts (opened_at DESC);
CREATE INDEX slo_definition_forecast_alerts_closed ON slo_definition_forecast_alerts (closed_at DESC)
    WHERE closed_at IS NOT NULL;
