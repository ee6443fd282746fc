"""SQL of the current status."""

from app.rollups.queries import CHECK_SLOTS

# The newest slots are read from the newest chunks of `checks`: each statement comes with a lower time
# bound relative to its own start, which its cached generic plan applies when it is made (chunks before
# it are left out of the plan; a bound given as a parameter would keep all of them in it), and without
# one (ANY_TIME) for a `now` too far before the database's clock (tests, replays: service.latest_slots).
RECENT_FLOOR = "now() - interval '1 day'"
LATEST_FLOOR = "now() - interval '3 days'"
ANY_TIME = "'-infinity'::timestamptz"

# The slots of the services in ($2 - $3, $2], newest first: one range scan of the newest chunk,
# which holds the latest three slots of every service checked on schedule. $1 service ids, $2 now,
# $3 lookback.
_RECENT = "c.service_id = ANY($1::text[]) AND c.ts > $2::timestamptz - $3::interval AND c.ts <= $2"


def _recent_slots(floor: str) -> str:
    return f"""
SELECT * FROM ({CHECK_SLOTS.format(where=f"{_RECENT} AND c.ts >= {floor}")}) s
ORDER BY service_id, ts DESC
"""


RECENT_SLOTS = _recent_slots(RECENT_FLOOR)  # for $2 - $3 at or after RECENT_FLOOR
RECENT_SLOTS_ANY_TIME = _recent_slots(ANY_TIME)


def _latest_slots(floor: str) -> str:
    """The latest three slots of each service, newest first, for services with fewer than three recent
    ones: find their timestamps by index order first, then build those slots. Only slots in ($2 - $3, $2]
    count as 'latest'. $1 service ids, $2 now, $3 how far back."""
    since_newest = f"c.service_id = s.id AND c.ts >= newest.since AND c.ts <= $2 AND c.ts >= {floor}"
    return f"""
SELECT s.id AS service_id, sl.ts, sl.ok, sl.latency_ms
FROM unnest($1::text[]) AS s(id)
CROSS JOIN LATERAL (
    SELECT min(t.ts) AS since
    FROM (SELECT DISTINCT c.ts FROM checks c WHERE c.service_id = s.id AND c.ts <= $2 AND c.ts > $2 - $3::interval
                AND c.ts >= {floor}
          ORDER BY c.ts DESC LIMIT 3) t
) newest
CROSS JOIN LATERAL ({CHECK_SLOTS.format(where=since_newest)}) sl
ORDER BY s.id, sl.ts DESC
"""


LATEST_SLOTS = _latest_slots(LATEST_FLOOR)  # for $2 - $3 at or after LATEST_FLOOR
LATEST_SLOTS_ANY_TIME = _latest_slots(ANY_TIME)

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

# Live status events (app/status/live.py): one computation at a time across every process, and what
# was last announced per service.
LIVE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('slamon:live-status'))"

LIVE_STATE = "SELECT service_id, status, days FROM live_status"

PUT_LIVE_STATE = """
INSERT INTO live_status (service_id, status, days, updated_at)
SELECT * , now() FROM unnest($1::text[], $2::text[], $3::jsonb[])
ON CONFLICT (service_id) DO UPDATE SET status = EXCLUDED.status, days = EXCLUDED.days, updated_at = now()
"""

FORGET_LIVE_STATE = "DELETE FROM live_status WHERE service_id = ANY($1::text[])"

# Everything stored that a status read depends on, as generation numbers (app/status/cache.py):
# data_generations (incidents, maintenance windows, services, rewritten rollups) and
# status_generations (checks, incident updates), in one array of a fixed order.
STATUS_VERSION = """
SELECT array_agg(generation ORDER BY kind, name)
FROM (SELECT 1 AS kind, name, generation FROM data_generations
      UNION ALL SELECT 2, name, generation FROM status_generations) g
"""
