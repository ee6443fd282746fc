-- The monitored services: configuration as code (services.toml), synced by `slamon migrate`.
CREATE TABLE services (
    id                 text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,49}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description        text NOT NULL DEFAULT '',
    kind               text NOT NULL DEFAULT 'http',
    endpoint_url       text,
    interval_s         integer NOT NULL DEFAULT 60 CHECK (interval_s >= 10),
    timeout_s          numeric(6,2) NOT NULL DEFAULT 30 CHECK (timeout_s > 0),
    latency_target_ms  integer NOT NULL DEFAULT 7000 CHECK (latency_target_ms > 0),
    tier               text NOT NULL DEFAULT 'professional'
                       CHECK (tier IN ('enterprise_plus', 'enterprise', 'professional', 'developer')),
    check_config       jsonb NOT NULL DEFAULT '{}'::jsonb,
    allow_private      boolean NOT NULL DEFAULT false,
    position           integer NOT NULL DEFAULT 0,
    is_active          boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Ingest keys are derived: HMAC(secret, service_id, version). Only the version is stored, so a
-- key can be printed again but never read out of the database; bumping the version revokes it.
CREATE TABLE ingest_keys (
    service_id   text PRIMARY KEY REFERENCES services (id) ON DELETE CASCADE,
    key_version  integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now()
);
