-- Incident collaboration: comments, and per-user server-side drafts (incident_key 'new' = the new-incident form).
-- No foreign key to incidents: a referencing table would make `TRUNCATE incidents` (test resets,
-- re-seeding) fail; deleting an incident removes its comments and drafts through the trigger below.
CREATE TABLE incident_comments (
    id           bigserial PRIMARY KEY,
    incident_id  text NOT NULL,
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    user_name    text NOT NULL,
    message      text NOT NULL CHECK (length(message) BETWEEN 1 AND 5000),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_comments_incident ON incident_comments (incident_id, created_at, id);

CREATE TABLE incident_drafts (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    incident_key  text NOT NULL,
    data          jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, incident_key)
);

CREATE FUNCTION incident_collaboration_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM incident_comments WHERE incident_id = OLD.id;
    DELETE FROM incident_drafts WHERE incident_key = OLD.id;
    RETURN OLD;
END $$;

CREATE TRIGGER incidents_collaboration_cleanup AFTER DELETE ON incidents
FOR EACH ROW EXECUTE FUNCTION incident_collaboration_cleanup();
