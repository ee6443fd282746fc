-- Monthly SLA reports frozen at month close (issue 5): one row per service, month and revision.
-- Revision 1 is written by the month close; corrections append revision N+1 with a reason and an
-- author (audited). Rows are never changed or removed: a trigger refuses UPDATE and DELETE, so a
-- closed month's report stays the same after its raw rows expire. (TRUNCATE, an owner's operation,
-- stays possible for test resets.)
CREATE TABLE report_snapshots (
    service_id  text NOT NULL REFERENCES services (id),
    month       date NOT NULL CHECK (extract(day FROM month) = 1),  -- first day, reporting time zone
    revision    integer NOT NULL CHECK (revision >= 1),
    timezone    text NOT NULL,
    figures     json NOT NULL CHECK (json_typeof(figures) = 'object'),  -- json: the exact text frozen
    reason      text NOT NULL DEFAULT '' CHECK (length(reason) <= 2000),
    author      text NOT NULL DEFAULT '' CHECK (length(author) <= 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, month, revision),
    CHECK (revision = 1 OR length(btrim(reason)) > 0)
);

CREATE FUNCTION report_snapshots_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'report snapshots are immutable: % refused; correct a month with a new revision', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER report_snapshots_no_update_delete
    BEFORE UPDATE OR DELETE ON report_snapshots
    FOR EACH ROW EXECUTE FUNCTION report_snapshots_immutable();
