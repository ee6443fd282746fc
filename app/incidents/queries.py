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
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::timestamptz, coalesce($11::timestamptz, $10::timestamptz),
        $11::timestamptz)
RETURNING id
"""
INSERT_UPDATE_AT = """
INSERT INTO incident_updates (incident_id, status, description, author, created_at) VALUES ($1, $2, $3, $4, $5)
"""

_RETURNING = """RETURNING id, title, description, status, severity, priority, reporter, detection_criteria,
          affected_services, version, created_at, updated_at, resolved_at"""

INSERT = f"""
INSERT INTO incidents (title, description, status, severity, priority, reporter, detection_criteria,
                       affected_services, resolved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $3 = 'resolved' THEN now() END)
{_RETURNING}
"""

GET_FOR_UPDATE = f"SELECT {_COLUMNS} FROM incidents i WHERE i.id = $1 FOR UPDATE"

# Optimistic concurrency: the write lands only on the version the client saw. resolved_at follows
# the status: set when it becomes resolved, kept while it stays resolved, cleared on reopen.
UPDATE = f"""
UPDATE incidents SET title = $3, description = $4, status = $5, severity = $6, priority = $7,
       reporter = $8, detection_criteria = $9, affected_services = $10,
       resolved_at = CASE WHEN $5 <> 'resolved' THEN NULL
                          WHEN status = 'resolved' THEN resolved_at ELSE greatest(now(), created_at) END,
       version = version + 1, updated_at = now()
WHERE id = $1 AND version = $2
{_RETURNING}
"""

DELETE = "DELETE FROM incidents WHERE id = $1 RETURNING *"

INSERT_UPDATE = """
INSERT INTO incident_updates (incident_id, status, description, author) VALUES ($1, $2, $3, $4)
RETURNING id, incident_id, status, description, author, created_at
"""

COMMENTS = """
SELECT id, incident_id, user_id, user_name, message, created_at FROM incident_comments
WHERE incident_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3
"""

COUNT_COMMENTS = "SELECT count(*) FROM incident_comments WHERE incident_id = $1"

INSERT_COMMENT = """
INSERT INTO incident_comments (incident_id, user_id, user_name, message) VALUES ($1, $2, $3, $4)
RETURNING id, incident_id, user_id, user_name, message, created_at
"""

EXISTS = "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = $1)"

GET_DRAFT = "SELECT incident_key, data, updated_at FROM incident_drafts WHERE user_id = $1 AND incident_key = $2"

PUT_DRAFT = """
INSERT INTO incident_drafts (user_id, incident_key, data) VALUES ($1, $2, $3::jsonb)
ON CONFLICT (user_id, incident_key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
RETURNING incident_key, data, updated_at
"""

DELETE_DRAFT = "DELETE FROM incident_drafts WHERE user_id = $1 AND incident_key = $2 RETURNING incident_key"

# The console's list: any status (NULL = all), priority and one affected service; newest first.
_FILTER = """
WHERE ($1::text[] IS NULL OR i.status = ANY($1::text[]))
  AND ($2::text[] IS NULL OR i.priority = ANY($2::text[]))
  AND ($3::text IS NULL OR i.affected_services @> ARRAY[$3::text])
"""

SEARCH = f"""
SELECT {_COLUMNS} FROM incidents i {_FILTER}
ORDER BY i.created_at DESC, i.id DESC LIMIT $4 OFFSET $5
"""

COUNT_SEARCH = f"SELECT count(*) FROM incidents i {_FILTER}"
