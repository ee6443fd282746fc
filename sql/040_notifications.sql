-- Notifications: subscriptions (where to send), the event outbox (what happened) and deliveries
-- (one per subscription and event, with their attempts). app/notifications, workers/notify.py.

-- Who is told: a webhook (generic JSON), a Slack or Teams incoming webhook, or an email address.
CREATE TABLE subscriptions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind           text NOT NULL CHECK (kind IN ('webhook', 'slack', 'teams', 'email')),
    url            text CHECK (length(url) <= 2048),
    email          text CHECK (length(email) <= 320),
    secret         text CHECK (length(secret) <= 200),   -- HMAC-SHA256 key of the signature header
    events         text[] NOT NULL DEFAULT '{}',          -- empty: every event kind
    service_ids    text[] NOT NULL DEFAULT '{}',          -- empty: every service
    allow_private  boolean NOT NULL DEFAULT false,        -- loopback/private receivers (never metadata)
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'email') = (email IS NOT NULL)),
    CHECK ((kind = 'email') = (url IS NULL))
);

-- The outbox. Incident events are inserted in the transaction of the incident write; SLO violation
-- and maintenance events by the worker's scan. event_key makes each of them happen once.
CREATE TABLE notification_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_key      text NOT NULL UNIQUE,
    kind           text NOT NULL,
    service_ids    text[] NOT NULL DEFAULT '{}',
    payload        jsonb NOT NULL,
    occurred_at    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    dispatched_at  timestamptz                            -- fanned out into deliveries
);
CREATE INDEX notification_events_pending ON notification_events (id) WHERE dispatched_at IS NULL;

-- One delivery per (subscription, event): a job that runs twice finds the row, never a second one.
-- id is the stable delivery id receivers de-duplicate on (header X-SLAMon-Delivery).
CREATE TABLE notification_deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id  bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_id         bigint NOT NULL REFERENCES notification_events (id) ON DELETE CASCADE,
    event_key        text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,                         -- an attempt is in flight until then
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (subscription_id, event_key)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_deliveries_log ON notification_deliveries (subscription_id, created_at DESC, id);

-- The delivery log: one row per attempt, written when it starts (an attempt cut short by a crash
-- stays without an outcome).
CREATE TABLE notification_attempts (
    delivery_id     uuid NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status_code     integer,
    error           text,
    response_body   text,                                 -- the first bytes only
    PRIMARY KEY (delivery_id, attempt)
);
