"""SQL of the audit log."""

INSERT = """
INSERT INTO audit_log (actor_id, actor_name, action, target_type, target_id, ip, details)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
"""

# Filters are optional: a NULL parameter matches everything.
_WHERE = """
WHERE ($1::text IS NULL OR actor_name = $1 OR actor_id::text = $1)
  AND ($2::text IS NULL OR action = $2 OR action LIKE $2 || '.%')
  AND ($3::text IS NULL OR target_type = $3)
  AND ($4::text IS NULL OR target_id = $4)
  AND ($5::timestamptz IS NULL OR at >= $5)
  AND ($6::timestamptz IS NULL OR at < $6)
"""

LIST = f"""
SELECT id, at, actor_id, actor_name, action, target_type, target_id, ip, details
FROM audit_log {_WHERE}
ORDER BY at DESC, id DESC LIMIT $7 OFFSET $8
"""

COUNT = f"SELECT count(*) FROM audit_log {_WHERE}"
