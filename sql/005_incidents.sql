-- Incidents and maintenance: what the public read API shows and the SLA figures take into account.
CREATE SEQUENCE incident_number_seq;

CREATE TABLE incidents (
    id                  text PRIMARY KEY DEFAULT
                            'inc-' || to_char(now() AT TIME ZONE 'UTC', 'YYYY') || '-'
                            || lpad(nextval('incident_number_seq')::text, 3, '0'),
    title               text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    description         text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    status              text NOT NULL DEFAULT 'investigating'
                        CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    severity            text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    priority            text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3')),
    reporter            text NOT NULL DEFAULT '',
    detection_criteria  text NOT NULL DEFAULT '',
    affected_services   text[] NOT NULL DEFAULT '{}',
    cause               text,            -- automatic detection: 'failures' | 'latency' | 'latency_severe'
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK (resolved_at IS NULL OR resolved_at >= created_at)
);
CREATE INDEX incidents_status ON incidents (status, created_at DESC);
CREATE INDEX incidents_priority ON incidents (priority, created_at DESC);
CREATE INDEX incidents_created ON incidents (created_at DESC);
CREATE INDEX incidents_services ON incidents USING gin (affected_services);

CREATE TABLE incident_updates (
    id           bigserial PRIMARY KEY,
    incident_id  text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    status       text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    description  text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
    author       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, created_at DESC);

-- Checks whose slot lies in a window of their service are excluded from every SLA figure.
CREATE TABLE maintenance_windows (
    id                 bigserial PRIMARY KEY,
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    description        text NOT NULL DEFAULT '',
    affected_services  text[] NOT NULL CHECK (cardinality(affected_services) > 0),
    starts_at          timestamptz NOT NULL,
    ends_at            timestamptz NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_time ON maintenance_windows (starts_at, ends_at);
CREATE INDEX maintenance_windows_services ON maintenance_windows USING gin (affected_services);
