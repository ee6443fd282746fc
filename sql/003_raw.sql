-- Raw samples. One writer: app/ingest. Rollups read these; nothing else aggregates them ad hoc.

-- One row per probe execution; ts is the scheduled slot (whole seconds).
CREATE TABLE checks (
    ts             timestamptz NOT NULL,
    service_id     text NOT NULL,
    region         text NOT NULL,
    ok             boolean NOT NULL,
    status_code    smallint,
    latency_ms     integer CHECK (latency_ms >= 0),
    error_type     text CHECK (error_type IN ('timeout', 'connection_error', 'dns_error', 'tls_error',
                                              'http_error', 'assertion_failed')),
    error_message  text
);
SELECT create_hypertable('checks', by_range('ts', INTERVAL '1 day'));
-- Idempotency key of a check, and the (service_id, ts) range index every reader uses.
CREATE UNIQUE INDEX checks_slot_key ON checks (service_id, ts DESC, region);

-- One row per real API call reported by a monitored service.
CREATE TABLE api_calls (
    ts           timestamptz NOT NULL,
    service_id   text NOT NULL,
    endpoint     text NOT NULL DEFAULT '',
    method       text NOT NULL DEFAULT 'GET',
    status_code  smallint NOT NULL,
    latency_ms   integer NOT NULL CHECK (latency_ms >= 0),
    request_id   text
);
SELECT create_hypertable('api_calls', by_range('ts', INTERVAL '1 day'));
CREATE INDEX api_calls_service_ts ON api_calls (service_id, ts DESC);
-- A replayed request_id is stored once.
CREATE UNIQUE INDEX api_calls_request_key ON api_calls (service_id, request_id, ts)
    WHERE request_id IS NOT NULL;

-- Time ranges written since the last rollup refresh (Apache edition's incremental refresh).
-- Written in the same transaction as the rows; the refresh consumes them.
CREATE TABLE rollup_invalidations (
    id          bigserial PRIMARY KEY,
    raw_table   text NOT NULL CHECK (raw_table IN ('checks', 'api_calls')),
    service_id  text NOT NULL,
    lo          timestamptz NOT NULL,
    hi          timestamptz NOT NULL,   -- exclusive
    logged_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (hi > lo)
);
CREATE INDEX rollup_invalidations_range ON rollup_invalidations (raw_table, service_id, lo);
