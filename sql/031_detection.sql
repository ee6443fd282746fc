-- Automatic incident detection (SLA-MATH.md "Incidents"; app/detection): per service and rule family
-- ('failures': failed slots -> P1; 'latency': slow slots -> P3, very slow -> P2) the worker replays
-- the slots newer than `anchor_ts` through the rules. The anchor advances only over settled slots (old
-- enough that every region has reported), carrying the run lengths reached there; newer slots are
-- replayed on every run, and `last_action_ts` keeps a replayed crossing from acting twice.
-- The row is locked (FOR UPDATE) by the job, so two workers detecting at once act once.
CREATE TABLE detection_state (
    service_id      text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    family          text NOT NULL CHECK (family IN ('failures', 'latency')),
    anchor_ts       timestamptz NOT NULL,       -- slots up to here are settled and folded into the runs
    bad_run         integer NOT NULL DEFAULT 0, -- consecutive failed (or slow) slots ending at the anchor
    severe_run      integer NOT NULL DEFAULT 0, -- consecutive very slow slots (latency family)
    good_run        integer NOT NULL DEFAULT 0, -- consecutive good slots
    incident_id     text,                       -- the open incident this family manages (no FK: see 022)
    phase           text CHECK (phase IN ('problem', 'recovered')),
    last_action_ts  timestamptz,                -- slot of the newest automatic action
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service_id, family)
);

-- At most one open automatically detected incident per service and rule family, whatever the code
-- does: 'latency' and 'latency_severe' are one family (an incident escalates from P3 to P2).
ALTER TABLE incidents ADD COLUMN detected_service_id text;
CREATE UNIQUE INDEX incidents_one_open_detection
    ON incidents (detected_service_id, (CASE WHEN cause = 'failures' THEN 'failures' ELSE 'latency' END))
    WHERE detected_service_id IS NOT NULL AND status <> 'resolved';
