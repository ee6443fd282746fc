"""SQL of the public feeds: the latest incidents with their newest update, and maintenance windows;
of every service ($2 NULL) or of one (those that name it among their affected services)."""

# An incident's activity time is its newest timeline entry or edit, whichever is later.
LATEST_INCIDENTS = """
SELECT i.id, i.title, i.description, i.status, i.severity, i.priority, i.affected_services, i.created_at,
       i.resolved_at, u.status AS update_status, u.description AS update_description, u.created_at AS update_at,
       greatest(i.updated_at, u.created_at) AS activity_at
FROM incidents i
LEFT JOIN LATERAL (
    SELECT status, description, created_at FROM incident_updates
    WHERE incident_id = i.id ORDER BY created_at DESC, id DESC LIMIT 1
) u ON true
WHERE $2::text IS NULL OR $2 = ANY (i.affected_services)
ORDER BY activity_at DESC, i.id DESC LIMIT $1
"""

# A window's activity time is its latest transition so far: scheduled, started, ended.
LATEST_MAINTENANCE = """
SELECT id, title, description, affected_services, starts_at, ends_at, created_at,
       greatest(created_at, CASE WHEN ends_at <= $1 THEN ends_at WHEN starts_at <= $1 THEN starts_at
                                 ELSE created_at END) AS activity_at
FROM maintenance_windows WHERE $3::text IS NULL OR $3 = ANY (affected_services)
ORDER BY activity_at DESC, id DESC LIMIT $2
"""

SERVICE_NAME = "SELECT name FROM services WHERE id = $1"
