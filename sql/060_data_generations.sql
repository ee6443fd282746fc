-- A generation number per input of the status page's settled history (app/status/history.py): the
-- page keeps the figures of past days in memory and recomputes them only when one of these moves.
-- Bumped in the writing transaction, so a reader sees the new number exactly when it sees the new
-- rows; a rolled-back write rolls its bump back. Random starting values keep two databases served
-- by one process from ever sharing a number.
CREATE TABLE data_generations (
    name       text PRIMARY KEY,
    generation bigint NOT NULL
);

INSERT INTO data_generations (name, generation)
SELECT name, floor(random() * 1e15)::bigint
FROM unnest(ARRAY['incidents', 'maintenance_windows', 'services', 'rollups']) AS name;

CREATE FUNCTION bump_data_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_generations SET generation = generation + 1 WHERE name = TG_ARGV[0];
    RETURN NULL;
END
$$;

CREATE TRIGGER incidents_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_generation('incidents');
CREATE TRIGGER maintenance_windows_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON maintenance_windows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_generation('maintenance_windows');
CREATE TRIGGER services_generation AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_generation('services');
-- The refresh bumps 'rollups' itself when it rewrites old buckets (app/rollups/service.py); emptying
-- the rollups by hand (the benchmarks' raw-scan baseline, the tests' reset) counts too.
CREATE TRIGGER rollup_checks_daily_generation AFTER TRUNCATE ON rollup_checks_daily
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_generation('rollups');
CREATE TRIGGER rollup_state_generation AFTER TRUNCATE ON rollup_state
    FOR EACH STATEMENT EXECUTE FUNCTION bump_data_generation('rollups');
