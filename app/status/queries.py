"""SQL of the current status."""

from app.db import TIME_FLOOR
from app.rollups.queries import CHECK_SLOTS

# The slots of the services in ($2 - $3, $2], newest first: one range scan of the newest chunk,
# which holds the latest three slots of every service checked on schedule. $1 service ids, $2 now,
# $3 lookback; the time floor (db.with_time_floor) at or before $2 - $3.
RECENT_SLOTS = f"""
SELECT * FROM ({
    CHECK_SLOTS.format(
        where="c.service_id = ANY($1::text[]) AND c.ts > $2::timestamptz - $3::interval AND c.ts <= $2 "
        f"AND c.ts >= {TIME_FLOOR}"
    )
}) s
ORDER BY service_id, ts DESC
"""

# The latest three slots of each service, newest first, for services with fewer than three recent
# ones: find their timestamps by index order first, then build those slots. Only slots in ($2 - $3, $2]
# count as 'latest'. $1 service ids, $2 now, $3 how far back; the time floor at or before $2 - $3.
LATEST_SLOTS = f"""
SELECT s.id AS service_id, sl.ts, sl.ok, sl.latency_ms
FROM unnest($1::text[]) AS s(id)
CROSS JOIN LATERAL (
    SELECT min(t.ts) AS since
    FROM (SELECT DISTINCT c.ts FROM checks c WHERE c.service_id = s.id AND c.ts <= $2 AND c.ts > $2 - $3::interval
                AND c.ts >= {TIME_FLOOR}
          ORDER BY c.ts DESC LIMIT 3) t
) newest
CROSS JOIN LATERAL ({CHECK_SLOTS.format(where=f"c.service_id = s.id AND c.ts >= newest.since AND c.ts <= $2 AND c.ts >= {TIME_FLOOR}")}) sl
ORDER BY s.id, sl.ts DESC
"""

OPEN_INCIDENTS = """
SELECT id, priority, affected_services FROM incidents WHERE status <> 'resolved'
"""

# What the settled days of the grid depend on (app/status/history.py): the generation numbers, and
# whether a write to checks of the services in [$2, $3) still waits in the invalidation log.
HISTORY_VERSION = """
SELECT (SELECT array_agg(generation ORDER BY name) FROM data_generations) AS generations,
       EXISTS (SELECT 1 FROM rollup_invalidations i
               WHERE i.raw_table = 'checks' AND i.service_id = ANY($1::text[]) AND i.lo < $3 AND i.hi > $2) AS pending
"""
