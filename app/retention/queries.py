"""SQL of raw-data retention."""

from app.rollups.queries import CHECK_SLOTS

# The chunks of a hypertable, with the end of their time range (what drop_chunks compares).
CHUNKS = """
SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk, range_end
FROM timescaledb_information.chunks
WHERE hypertable_schema = current_schema() AND hypertable_name = $1
"""

DROP_CHUNKS = "SELECT drop_chunks($1::regclass, older_than => $2::timestamptz)"

HORIZON = "SELECT dropped_before FROM raw_retention WHERE raw_table = $1"

SET_HORIZON = """
INSERT INTO raw_retention (raw_table, dropped_before) VALUES ($1, $2)
ON CONFLICT (raw_table) DO UPDATE
SET dropped_before = greatest(raw_retention.dropped_before, EXCLUDED.dropped_before), dropped_at = now()
"""

# Slots in [$1, $2) that lie in a maintenance window of their service (the SLA figures subtract them).
ARCHIVE_MAINTENANCE_SLOTS = f"""
INSERT INTO maintenance_slots_archive (service_id, ts, ok)
SELECT s.service_id, s.ts, s.ok
FROM ({
    CHECK_SLOTS.format(
        where='''c.ts >= $1 AND c.ts < $2
      AND EXISTS (SELECT 1 FROM maintenance_windows w
                  WHERE c.service_id = ANY(w.affected_services) AND c.ts >= w.starts_at AND c.ts < w.ends_at)'''
    )
}) s
ON CONFLICT (service_id, ts) DO UPDATE SET ok = EXCLUDED.ok
"""

# The first rollup level of each raw table (sql/200): its chunks go with the raw chunks they came from.
FIRST_LEVEL = {"checks": "rollup_check_slots", "api_calls": "rollup_usage_minutes"}

# Invalidations entirely before the horizon can never be recomputed: forget them.
FORGET_INVALIDATIONS = "DELETE FROM rollup_invalidations WHERE raw_table = $1 AND hi <= $2"
