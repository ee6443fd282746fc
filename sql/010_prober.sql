-- Prober fleet membership: one row per prober process, renewed by its heartbeat.
-- A prober owns the slots of a service that rendezvous hashing gives it among the members eligible
-- for that slot: active_from <= slot, and (still live, or slot < expires_at). See prober/rendezvous.py.
CREATE TABLE prober_heartbeats (
    prober_id          text PRIMARY KEY CHECK (length(prober_id) BETWEEN 1 AND 200),
    region             text NOT NULL CHECK (length(region) BETWEEN 1 AND 64),
    hostname           text NOT NULL DEFAULT '',
    pid                integer,
    started_at         timestamptz NOT NULL DEFAULT now(),
    active_from        timestamptz NOT NULL,   -- first slot this prober may own
    expires_at         timestamptz NOT NULL,   -- final once passed: a lapsed prober must re-register
    last_seen          timestamptz NOT NULL DEFAULT now(),
    assigned_services  integer NOT NULL DEFAULT 0,
    stopped_at         timestamptz
);
CREATE INDEX prober_heartbeats_region ON prober_heartbeats (region, expires_at);
