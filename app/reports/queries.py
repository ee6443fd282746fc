"""SQL of the monthly reports: snapshots (append-only), daily latency percentiles, SLO violations."""

# Nearest-rank P50/P95/P99 of the raw call latencies per service and day of the reporting zone.
# $1 service ids, $2 from, $3 to, $4 zone.
DAILY_LATENCY = """
SELECT c.service_id, (c.ts AT TIME ZONE $4)::date AS day, count(*)::int AS calls,
       percentile_disc(0.50) WITHIN GROUP (ORDER BY c.latency_ms) AS p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY c.latency_ms) AS p95,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY c.latency_ms) AS p99
FROM api_calls c
WHERE c.service_id = ANY($1::text[]) AND c.ts >= $2 AND c.ts < $3
GROUP BY 1, 2
"""

# Every maintenance window of the services $1 overlapping the period, excluded or not (the report says
# which).
MAINTENANCE_OVERLAPPING = """
SELECT title, starts_at, ends_at, announced_at, excluded, exclusion_reason, affected_services
FROM maintenance_windows
WHERE affected_services && $1::text[] AND starts_at < $3 AND ends_at > $2
ORDER BY starts_at, id
"""

# Violations of the services $1 that overlap [$2, $3).
# The tier SLOs' (slo_violations) and the SLO definitions' (slo_definition_violations, `slo` named
# "<definition>/<alert>"): both count for the 4-hour violation credit (docs/sla-math.md).
VIOLATIONS_OVERLAPPING = """
SELECT service_id, id, NULL::text AS definition, slo, severity, started_at, ended_at, threshold, worst_value
FROM slo_violations
WHERE service_id = ANY($1::text[]) AND started_at < $3 AND coalesce(ended_at, 'infinity') > $2
UNION ALL
SELECT service_id, id, definition, definition || '/' || alert, severity, started_at, ended_at, threshold, worst_value
FROM slo_definition_violations
WHERE service_id = ANY($1::text[]) AND started_at < $3 AND coalesce(ended_at, 'infinity') > $2
ORDER BY started_at, definition NULLS FIRST, id
"""

LATEST = """
SELECT service_id, month, revision, timezone, figures::text AS figures, reason, author, created_at
FROM report_snapshots WHERE service_id = $1 AND month = $2
ORDER BY revision DESC LIMIT 1
"""

ONE_REVISION = """
SELECT service_id, month, revision, timezone, figures::text AS figures, reason, author, created_at
FROM report_snapshots WHERE service_id = $1 AND month = $2 AND revision = $3
"""

REVISIONS = """
SELECT revision, reason, author, created_at FROM report_snapshots
WHERE service_id = $1 AND month = $2 ORDER BY revision
"""

# Latest revision of each closed month of a service in [$2, $3] (months as dates).
LATEST_PER_MONTH = """
SELECT DISTINCT ON (month) month, revision, figures::text AS figures
FROM report_snapshots WHERE service_id = $1 AND month >= $2 AND month <= $3
ORDER BY month, revision DESC
"""

# Revision 1, written once whoever closes the month first (idempotent across workers).
INSERT_FIRST = """
INSERT INTO report_snapshots (service_id, month, revision, timezone, figures)
VALUES ($1, $2, 1, $3, $4::json)
ON CONFLICT (service_id, month, revision) DO NOTHING
RETURNING revision, created_at
"""

# Revision 1 of several services' month ($1 ids, $4 their figures), the same way: the ids written.
INSERT_FIRST_MANY = """
INSERT INTO report_snapshots (service_id, month, revision, timezone, figures)
SELECT f.service_id, $2, 1, $3, f.figures::json FROM unnest($1::text[], $4::text[]) AS f(service_id, figures)
ON CONFLICT (service_id, month, revision) DO NOTHING
RETURNING service_id
"""

# Serialises revisions of one (service, month): two corrections never race for the same number.
# A session lock, taken before the revision's repeatable-read snapshot so that the snapshot sees the
# revision a concurrent correction just committed.
LOCK_MONTH = "SELECT pg_advisory_lock(hashtext('report:' || $1 || ':' || $2::date::text))"
UNLOCK_MONTH = "SELECT pg_advisory_unlock(hashtext('report:' || $1 || ':' || $2::date::text))"

NEXT_REVISION = "SELECT coalesce(max(revision), 0) + 1 FROM report_snapshots WHERE service_id = $1 AND month = $2"

INSERT_REVISION = """
INSERT INTO report_snapshots (service_id, month, revision, timezone, figures, reason, author)
VALUES ($1, $2, $3, $4, $5::json, $6, $7)
RETURNING revision, created_at
"""

CLOSED_SERVICES = "SELECT service_id FROM report_snapshots WHERE month = $1 AND revision = 1"

# Services to close: active ones, plus any with raw rows in the month. $1 from, $2 to.
SERVICES_TO_CLOSE = """
SELECT v.id, v.name, v.tier, v.interval_s, v.latency_target_ms, v.created_at
FROM services v
WHERE v.is_active
   OR EXISTS (SELECT 1 FROM checks c WHERE c.service_id = v.id AND c.ts >= $1 AND c.ts < $2)
ORDER BY v.position, v.id
"""

# Printed PDFs of frozen revisions. $1 service, $2 month, $3 revision, $4 latest revision, $5 language,
# $6 renderer version.
CACHED_PDF = """
SELECT pdf FROM report_pdfs
WHERE service_id = $1 AND month = $2 AND revision = $3 AND latest_revision = $4 AND language = $5 AND renderer = $6
"""

STORE_PDF = """
INSERT INTO report_pdfs (service_id, month, revision, latest_revision, language, renderer, pdf)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT DO NOTHING
"""
# Time to acknowledge and to resolve (app/escalation): the first acknowledgement of each incident of
# the month (the timeline keeps it after a resumption lifted it), and its resolution.
INCIDENT_RESPONSE_IN = """
SELECT i.id, i.priority, i.affected_services, i.created_at, i.resolved_at,
       (SELECT min(l.at) FROM escalation_log l WHERE l.incident_id = i.id AND l.action = 'acknowledged')
           AS acknowledged_at
FROM incidents i
WHERE i.created_at >= $1 AND i.created_at < $2 AND i.affected_services && $3::text[]
ORDER BY i.created_at, i.id
"""
