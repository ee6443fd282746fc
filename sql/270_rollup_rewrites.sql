-- What the last rollup refresh that took in logged writes rewrote (app/rollups, RECORD_REWRITE): the
-- oldest raw instant whose buckets it materialised or recomputed for them (new rows, late or replayed
-- writes, a changed service, a range forced by `slamon rollups refresh --from`; 1970 when it cut every
-- bucket anew in another zone) and the instant it materialised up to. Updated in the transaction of the rewrite, so whoever keeps
-- figures derived from the rollups can act in that same transaction (a trigger of its own, e.g.
-- sql/271) without the rollups knowing of it. One row (or none before the first rewrite).
CREATE TABLE rollup_rewrites (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    rewritten_from timestamptz NOT NULL,
    refreshed_to   timestamptz NOT NULL,
    rewritten_at   timestamptz NOT NULL DEFAULT now()
);
