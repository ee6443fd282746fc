-- The worker's job queues learn of a changed service once per statement, not once per row: the
-- catalog sync (`slamon migrate`) upserts the whole services.toml in one statement, and with a
-- row trigger renaming 10,000 services ran 10,000 PL/pgSQL calls and 20,000 single-row INSERTs
-- (0.33 s of its 0.63 s; benchmarks/README.md, catalog sync). Same rows as sql/180's
-- services_jobs: each inserted or updated service, for both jobs, as a configuration change.
CREATE FUNCTION log_services_for_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_changes (job, service_id, written_lo)
    SELECT job, changed.id, '-infinity' FROM changed, unnest(ARRAY['slo', 'detection']) AS job;
    RETURN NULL;
END
$$;

DROP TRIGGER services_jobs ON services;
-- Two triggers: a trigger with transition tables has one event.
CREATE TRIGGER services_jobs_insert AFTER INSERT ON services
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION log_services_for_jobs();
CREATE TRIGGER services_jobs_update AFTER UPDATE ON services
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION log_services_for_jobs();
