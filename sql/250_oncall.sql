-- On-call schedules (docs/architecture.md, On-call): a rotation of users handing off daily or weekly
-- at a wall-clock time in a zone, overrides for holidays, and the users escalation levels page.

-- A rotation: the first shift starts on start_date at handoff_time in time_zone; each shift lasts
-- one day or seven (calendar days in the zone, so a handoff stays at 09:00 across DST); the
-- participants (usernames) take the shifts in order. escalation.toml owns the schedules it names.
CREATE TABLE oncall_schedules (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,49}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    time_zone     text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    rotation      text NOT NULL CHECK (rotation IN ('daily', 'weekly')),
    handoff_time  time NOT NULL,
    start_date    date NOT NULL,
    participants  text[] NOT NULL CHECK (cardinality(participants) BETWEEN 1 AND 100),
    feed_token    text NOT NULL CHECK (length(feed_token) >= 32),   -- the iCalendar feed URL's secret
    managed_by    text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('config', 'api')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- An override: this user is on call for [starts_at, ends_at) instead of the rotation's (the latest
-- override wins where two overlap). The file's schedules own their file's overrides.
CREATE TABLE oncall_overrides (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id  text NOT NULL REFERENCES oncall_schedules (id) ON DELETE CASCADE,
    username     text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    managed_by   text NOT NULL DEFAULT 'api' CHECK (managed_by IN ('config', 'api')),
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oncall_overrides_schedule ON oncall_overrides (schedule_id, starts_at);

-- A user paged by an escalation level gets an email through the outbox like any subscription: one
-- subscription per user, kept by the engine (its address follows the user's), escalation events only.
-- Deleted with the user by a trigger, not a foreign key: a TRUNCATE of users (resets, tests) must not
-- cascade into every subscription.
ALTER TABLE subscriptions ADD COLUMN paging_user_id uuid UNIQUE;

CREATE FUNCTION user_paging_subscription_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM subscriptions WHERE paging_user_id = OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER users_paging_subscription_cleanup AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION user_paging_subscription_cleanup();

-- Escalation resumes when an acknowledged incident stays quiet after its reminder (app/escalation);
-- the paging services call back to acknowledge (noted as 'acknowledged' with their actor).
ALTER TABLE escalation_log DROP CONSTRAINT escalation_log_action_check;
ALTER TABLE escalation_log ADD CONSTRAINT escalation_log_action_check
    CHECK (action IN ('started', 'paged', 'acknowledged', 'reminded', 'resumed', 'resolved'));
