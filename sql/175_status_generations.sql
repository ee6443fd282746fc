-- What GET /api/system-status and the status page are built from, beyond data_generations: a
-- generation number per input that changes between two settled-history reads (app/status/cache.py).
-- Each API process builds those responses once per change and serves them from memory: a request
-- reads these numbers with data_generations (one small statement) and builds again only when one
-- moved. Kept apart from data_generations, whose numbers key the settled days of the grid
-- (app/status/history.py) and must not move with every new check.
--
-- Bumped in the writing transaction (statement triggers), so a reader sees the new number exactly
-- when it sees the new rows. Every writer of checks goes through the ingest (one INSERT statement
-- per batch), so the 'checks' row is updated a few times a second at most: each ingest transaction
-- holds its row lock from that statement to its commit.
CREATE TABLE status_generations (
    name       text PRIMARY KEY,
    generation bigint NOT NULL
);

INSERT INTO status_generations (name, generation)
SELECT name, floor(random() * 1e15)::bigint
FROM unnest(ARRAY['checks', 'incident_updates']) AS name;

CREATE FUNCTION bump_status_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE status_generations SET generation = generation + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;

CREATE TRIGGER checks_status_generation AFTER INSERT OR UPDATE OR DELETE ON checks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_status_generation('checks');
-- TRUNCATE of a hypertable: the rows go with its chunks, the statement trigger still fires.
CREATE TRIGGER checks_truncate_status_generation AFTER TRUNCATE ON checks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_status_generation('checks');
CREATE TRIGGER incident_updates_status_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON incident_updates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_status_generation('incident_updates');
