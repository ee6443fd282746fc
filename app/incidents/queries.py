"""SQL of incidents."""

_COLUMNS = """i.id, i.title, i.description, i.status, i.severity, i.priority, i.reporter,
       i.detection_criteria, i.affected_services, i.version, i.created_at, i.updated_at, i.resolved_at"""

LIST_ACTIVE = f"""
SELECT {_COLUMNS} FROM incidents i WHERE i.status <> 'resolved' ORDER BY i.created_at DESC
"""

LIST_CREATED_IN = f"""
SELECT {_COLUMNS} FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2 ORDER BY i.created_at DESC
"""

GET = f"SELECT {_COLUMNS} FROM incidents i WHERE i.id = $1"

UPDATES_OF = """
SELECT id, incident_id, status, description, author, created_at
FROM incident_updates WHERE incident_id = ANY($1::text[])
ORDER BY created_at DESC, id DESC
"""

FIRST_CHECK = "SELECT min(ts) FROM checks"

# Historical incidents (seeder, imports): timestamps given, not now().
INSERT_AT = """
INSERT INTO incidents (title, description, status, severity, priority, reporter, detection_criteria,
                       affected_services, cause, created_at, updated_at, resolved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, coalesce($11::timestamptz, $10::timestamptz), $11::timestamptz)
RETURNING id
"""
INSERT_UPDATE_AT = """
INSERT INTO incident_updates (incident_id, status, description, author, created_at) VALUES ($1, $2, $3, $4, $5)
"""
