-- Escalation (docs/architecture.md, Escalation): policies as data, and the durable state of each
-- incident's escalation, so a level fires once at its delay whichever worker runs, across restarts.

-- A policy: conditions (priorities, services; empty = any) and ordered levels
-- [{"delaySeconds": n, "subscriptions": [names], "priorities": [..]}], checked by app/escalation/models.py.
-- escalation.toml owns the policies it names (managed_by 'config'); the API those it created.
CREATE TABLE escalation_policies (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,49}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position    integer NOT NULL DEFAULT 100,         -- the first matching policy (lowest) escalates
    enabled     boolean NOT NULL DEFAULT true,
    priorities  text[] NOT NULL DEFAULT '{}',
    service_ids text[] NOT NULL DEFAULT '{}',
    levels      jsonb NOT NULL CHECK (jsonb_typeof(levels) = 'array' AND length(levels::text) <= 65536),
    managed_by  text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('config', 'api')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One escalation per incident: the policy it follows (its levels copied, so a later edit of the
-- policy does not move a running escalation), the next level to fire, and what stopped it.
-- No foreign key to incidents (TRUNCATE incidents in resets, as sql/022); deleted with the incident.
CREATE TABLE incident_escalations (
    incident_id      text PRIMARY KEY,
    policy_id        text NOT NULL,
    levels           jsonb NOT NULL,
    started_at       timestamptz NOT NULL,               -- the incident's start: delays count from here
    next_level       integer NOT NULL DEFAULT 0,         -- index into levels
    next_at          timestamptz,                        -- when next_level is due; NULL: nothing left
    paged            bigint[] NOT NULL DEFAULT '{}',     -- subscriptions paged so far (told of ack/resolve)
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    reminded_at      timestamptz,                        -- the last reminder of an acknowledged incident
    stopped_at       timestamptz,
    stop_reason      text CHECK (stop_reason IN ('acknowledged', 'resolved', 'deleted', 'exhausted'))
);
CREATE INDEX incident_escalations_due ON incident_escalations (next_at) WHERE stopped_at IS NULL;

-- The escalation timeline: every start, page, acknowledgement, reminder and resolution (also in audit_log).
CREATE TABLE escalation_log (
    id           bigserial PRIMARY KEY,
    incident_id  text NOT NULL,
    at           timestamptz NOT NULL DEFAULT now(),
    action       text NOT NULL CHECK (action IN ('started', 'paged', 'acknowledged', 'reminded', 'resolved')),
    level        integer,                                -- 1-based, for 'paged'
    actor        text NOT NULL DEFAULT '',
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX escalation_log_incident ON escalation_log (incident_id, at, id);

CREATE FUNCTION incident_escalation_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM incident_escalations WHERE incident_id = OLD.id;
    DELETE FROM escalation_log WHERE incident_id = OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER incidents_escalation_cleanup AFTER DELETE ON incidents
FOR EACH ROW EXECUTE FUNCTION incident_escalation_cleanup();
