-- Work proportional to change for the worker's per-minute sweeps (app/changes): SLO evaluation
-- ('slo') and incident detection ('detection') evaluate only the services whose inputs changed since
-- their last run, or whose result time alone can change now (a 5-minute measurement completing, a
-- burn window sliding, unsettled slots settling, a new reporting month).
--
-- job_changes is a queue per job, written in the transaction of the change, so a change is never seen
-- before its rows are: new rows (through rollup_invalidations, which the one ingest writer fills in the
-- writing transaction, whoever writes), a service's configuration, a maintenance window. Insert-only,
-- so concurrent writers never wait for each other; the job takes it with DELETE … RETURNING (a change
-- still uncommitted is not visible, so not taken: the next run takes it).
CREATE TABLE job_changes (
    id          bigserial PRIMARY KEY,
    job         text NOT NULL CHECK (job IN ('slo', 'detection')),
    service_id  text NOT NULL,
    written_lo  timestamptz NOT NULL  -- earliest row written; '-infinity' for a configuration change
);
CREATE INDEX job_changes_job ON job_changes (job);

-- Per job and service: when it is next to be evaluated ('infinity': not until something changes),
-- the earliest row written since its last evaluation (NULL: none; '-infinity': anything may have
-- changed), and a generation moved by every change taken, so that an evaluation that began before a
-- change never marks it done.
CREATE TABLE job_work (
    job           text NOT NULL CHECK (job IN ('slo', 'detection')),
    service_id    text NOT NULL,
    due_at        timestamptz NOT NULL,
    written_from  timestamptz,
    generation    bigint NOT NULL DEFAULT 0,
    evaluated_at  timestamptz,         -- the job's `now` when it last evaluated the service
    PRIMARY KEY (job, service_id)
);
CREATE INDEX job_work_due ON job_work (job, due_at);

-- What a job's previous run saw that is not per service (the SLO job: its reporting month).
CREATE TABLE job_cursors (
    job       text PRIMARY KEY,
    last_run  timestamptz NOT NULL,
    period    text
);

CREATE FUNCTION log_written_for_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_changes (job, service_id, written_lo)
    SELECT 'slo', service_id, min(lo) FROM written GROUP BY service_id;
    INSERT INTO job_changes (job, service_id, written_lo)
    SELECT 'detection', service_id, min(lo) FROM written WHERE raw_table = 'checks' GROUP BY service_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_invalidations_jobs AFTER INSERT ON rollup_invalidations
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION log_written_for_jobs();

CREATE FUNCTION log_config_for_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids text[];
BEGIN
    IF TG_TABLE_NAME = 'services' THEN
        ids := ARRAY[NEW.id];
    ELSIF TG_OP = 'INSERT' THEN
        ids := NEW.affected_services;
    ELSIF TG_OP = 'DELETE' THEN
        ids := OLD.affected_services;
    ELSE
        ids := OLD.affected_services || NEW.affected_services;
    END IF;
    INSERT INTO job_changes (job, service_id, written_lo)
    SELECT job, id, '-infinity' FROM unnest(ARRAY['slo', 'detection']) AS job, unnest(ids) AS id;
    RETURN NULL;
END
$$;

CREATE TRIGGER services_jobs AFTER INSERT OR UPDATE ON services
    FOR EACH ROW EXECUTE FUNCTION log_config_for_jobs();
CREATE TRIGGER maintenance_windows_jobs AFTER INSERT OR UPDATE OR DELETE ON maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION log_config_for_jobs();

-- The first run after this migration evaluates every service once (a full sweep).
INSERT INTO job_work (job, service_id, due_at, written_from)
SELECT job, id, '-infinity', '-infinity' FROM services, unnest(ARRAY['slo', 'detection']) AS job;
