"""SQL of the SLA figures that rollups cannot hold: period-dependent ratios and exact counts over
raw rows, maintenance exclusions, incident statistics."""

from app.rollups.queries import CHECK_SLOTS

# Slots (same definition as the rollups) that lie in a maintenance window of their service, per
# day. $1 service ids, $2 from, $3 to, $4 zone. The scan is bounded by the windows in range.
_IN_WINDOW = """
c.service_id = ANY($1::text[]) AND c.ts >= $2 AND c.ts < $3
AND c.ts >= (SELECT min(w.starts_at) FROM sla_maintenance_windows w
             WHERE w.affected_services && $1::text[] AND w.starts_at < $3 AND w.ends_at > $2)
AND c.ts < (SELECT max(w.ends_at) FROM sla_maintenance_windows w
            WHERE w.affected_services && $1::text[] AND w.starts_at < $3 AND w.ends_at > $2)
AND EXISTS (SELECT 1 FROM sla_maintenance_windows w
            WHERE c.service_id = ANY(w.affected_services) AND c.ts >= w.starts_at AND c.ts < w.ends_at)
"""
# Raw checks before the retention horizon are gone: their maintenance slots come from the archive
# written when they were dropped (sql/032_retention.sql).
_HORIZON = "coalesce((SELECT dropped_before FROM raw_retention WHERE raw_table = 'checks'), '-infinity')"
MAINTENANCE_SLOTS_BY_DAY = f"""
SELECT s.service_id, time_bucket('1 day'::interval, s.ts, $4::text) AS day,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots
FROM ({CHECK_SLOTS.format(where=_IN_WINDOW + f" AND c.ts >= {_HORIZON}")}
      UNION ALL
      SELECT c.service_id, c.ts, c.ok, NULL FROM maintenance_slots_archive c
      WHERE {_IN_WINDOW} AND c.ts < {_HORIZON}) s
GROUP BY 1, 2
"""

MAINTENANCE_WINDOWS_IN_RANGE = """
SELECT id, title, description, affected_services, starts_at, ends_at
FROM sla_maintenance_windows
WHERE affected_services && $1::text[] AND starts_at < $3 AND ends_at > $2
ORDER BY starts_at
"""

INCIDENTS_OVERLAPPING = """
SELECT id, priority, affected_services, created_at, resolved_at
FROM incidents
WHERE affected_services && $1::text[] AND created_at < $3 AND coalesce(resolved_at, 'infinity') > $2
"""

# Response times over the raw calls of a period, per service: exact counts against the period's exact
# mean. $1 service ids, $2 from, $3 to, $4 their latency targets (ms), in the ids' order. A service
# without calls has no row (app/sla/service.py NO_CALLS). The calls are read once (MATERIALIZED) for
# both passes: joined to them again, the second pass was a scan of whole chunks.
RESPONSE_TIMES_MANY = """
WITH calls AS MATERIALIZED (
    SELECT service_id, latency_ms FROM api_calls WHERE service_id = ANY($1::text[]) AND ts >= $2 AND ts < $3
),
stats AS (SELECT service_id, count(*) AS total, avg(latency_ms) AS mean FROM calls GROUP BY service_id),
targets AS (SELECT * FROM unnest($1::text[], $4::int[]) AS t(service_id, target))
SELECT stats.service_id, stats.total, stats.mean,
       count(*) FILTER (WHERE c.latency_ms >= 3 * stats.mean) AS slow300,
       count(*) FILTER (WHERE c.latency_ms >= 5 * stats.mean) AS slow500,
       count(*) FILTER (WHERE c.latency_ms > t.target) AS over_target,
       percentile_disc(0.50) WITHIN GROUP (ORDER BY c.latency_ms) AS p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY c.latency_ms) AS p95,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY c.latency_ms) AS p99
FROM stats JOIN targets t USING (service_id) JOIN calls c USING (service_id)
GROUP BY stats.service_id, stats.total, stats.mean
"""

# Incidents created in [$1, $2) (ties in creation time by id: the order every reader lists them in).
INCIDENTS_CREATED_IN = """
SELECT id, priority, title, reporter, detection_criteria, affected_services, created_at, resolved_at
FROM incidents
WHERE created_at >= $1 AND created_at < $2
ORDER BY created_at, id
"""

# The same, of incidents affecting any of the services $3.
INCIDENTS_CREATED_IN_ANY = """
SELECT id, priority, title, reporter, detection_criteria, affected_services, created_at, resolved_at
FROM incidents
WHERE created_at >= $1 AND created_at < $2 AND affected_services && $3::text[]
ORDER BY created_at, id
"""
