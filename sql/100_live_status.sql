-- Live status events (app/status/live.py): what was last announced per service, and a NOTIFY for
-- every committed write the current status or a day's letter depends on.
--
-- live_status holds, per service, the status and the 90-day letters last sent as `status-update` /
-- `uptime-updated`: the next computation compares with it and emits only what changed, whichever
-- process (and however many of them) computes. Written under an advisory lock, in the same
-- transaction that emits, so two computations never interleave their events.
CREATE TABLE live_status (
    service_id text PRIMARY KEY,
    status     text NOT NULL,
    days       jsonb NOT NULL,   -- {"YYYY-MM-DD": letter} for the days of the grid
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Delivered at commit, so a listener reads rows that are already visible; identical payloads of
-- one transaction are delivered once. Checks: the ingest logs every accepted batch per service in
-- rollup_invalidations in the writing transaction (whoever wrote it: prober, spool replay, ingest
-- API, seeder), so that log is where "slots were stored" is known exactly.
CREATE FUNCTION notify_live_input() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'rollup_invalidations' THEN
        PERFORM pg_notify('slamon_live', 'checks:' || NEW.service_id);
    ELSE
        PERFORM pg_notify('slamon_live', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollup_invalidations_live AFTER INSERT ON rollup_invalidations
    FOR EACH ROW WHEN (NEW.raw_table = 'checks') EXECUTE FUNCTION notify_live_input();
CREATE TRIGGER incidents_live AFTER INSERT OR UPDATE OR DELETE ON incidents
    FOR EACH STATEMENT EXECUTE FUNCTION notify_live_input();
CREATE TRIGGER maintenance_windows_live AFTER INSERT OR UPDATE OR DELETE ON maintenance_windows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_live_input();
CREATE TRIGGER services_live AFTER INSERT OR UPDATE OR DELETE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION notify_live_input();
