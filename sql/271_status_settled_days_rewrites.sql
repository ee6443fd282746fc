-- The status page keeps the figures of the days before yesterday in memory (app/status/history.py)
-- until a generation moves. A rollup refresh that rewrote buckets more than 12 hours before the instant
-- it materialised up to may have changed such a day (yesterday began at least 23 hours before it):
-- it moves the 'rollups' generation in the refresh's own transaction. Newer rewrites cannot reach a
-- day the page already holds as settled; the next day's cut reads them.
CREATE TRIGGER rollup_rewrites_settled_days AFTER INSERT OR UPDATE ON rollup_rewrites
    FOR EACH ROW WHEN (NEW.rewritten_from < NEW.refreshed_to - INTERVAL '12 hours')
    EXECUTE FUNCTION bump_data_generation('rollups');
