-- The maintenance notice rule (docs/sla-math.md; the SLA document's SLO-001 exclusion, "planned
-- maintenance, announced 72 hours ahead"): a window's slots leave the SLA figures only when it was
-- announced at least the notice period before it starts. A later or unannounced window is shown like
-- any other but counts as ordinary time.
--
-- announced_at is the evidence: when the window was scheduled, which is when it appeared on the status
-- page and in the feeds and entered the subscribers' notification outbox. `excluded` is the decision,
-- taken by app/maintenance when a window is created or moved (SLAMON_MAINTENANCE_NOTICE_HOURS), with
-- its reason in words for reports.
--
-- Windows that exist before this rule keep their exclusion (marked announced at creation, with a reason
-- saying so). A window written straight into the table without the API (the demo seeder, tests) is
-- taken as announced in time, as before; every user path goes through app/maintenance.
ALTER TABLE maintenance_windows
    ADD COLUMN announced_at timestamptz,
    ADD COLUMN excluded boolean NOT NULL DEFAULT true,
    ADD COLUMN exclusion_reason text NOT NULL DEFAULT 'written directly, taken as announced in time';

UPDATE maintenance_windows
SET announced_at = created_at,
    exclusion_reason = 'scheduled before the notice rule existed: kept excluded';

ALTER TABLE maintenance_windows
    ALTER COLUMN announced_at SET DEFAULT now(),
    ALTER COLUMN announced_at SET NOT NULL;

-- The windows the SLA figures leave out: every SLA and SLO statement reads this, never the table.
CREATE VIEW sla_maintenance_windows AS
SELECT * FROM maintenance_windows WHERE excluded;
