-- After retention began, a change of reporting time zone cannot re-cut the days whose raw rows are
-- gone: the rollup keeps them, and its buckets before `final_before` (the end of the new zone's bucket
-- that holds the raw rows just after them) are final too. NULL: only the retention horizon counts.
ALTER TABLE rollup_state ADD COLUMN final_before timestamptz;
