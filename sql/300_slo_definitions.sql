-- SLO definitions as data (app/slo/definitions/model.py, docs/slos.md). `body` is
-- Definition.to_json(); the tier SLOs are built in and not stored here. A deleted definition keeps its
-- row (deleted_at) so that its violations keep naming something; a new definition of the same name
-- takes the row over.
CREATE TABLE slo_definitions (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    body        jsonb NOT NULL,
    source      text NOT NULL CHECK (source IN ('api', 'openslo', 'example')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text,
    deleted_at  timestamptz
);

-- Violations of a definition's alerts, per service: opened, escalated and closed by the worker's
-- evaluation (app/slo/definitions/engine.py) like slo_violations (sql/030): one open row per
-- definition, service and alert; severity is the highest reached while it lasted.
CREATE TABLE slo_definition_violations (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    definition   text NOT NULL REFERENCES slo_definitions (name),
    service_id   text NOT NULL REFERENCES services (id),
    alert        text NOT NULL CHECK (length(alert) BETWEEN 1 AND 63),
    severity     text NOT NULL CHECK (severity IN ('WARNING', 'CRITICAL')),
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    threshold    numeric NOT NULL,
    worst_value  numeric,
    details      jsonb NOT NULL DEFAULT '{}',
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX slo_definition_violations_one_open
    ON slo_definition_violations (definition, service_id, alert) WHERE ended_at IS NULL;
CREATE INDEX slo_definition_violations_started ON slo_definition_violations (definition, started_at DESC);
CREATE INDEX slo_definition_violations_ended ON slo_definition_violations (ended_at DESC) WHERE ended_at IS NOT NULL;
