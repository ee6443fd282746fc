"""SQL of maintenance windows and of runtime service edits."""

_COLUMNS = (
    "id, title, description, affected_services, starts_at, ends_at, created_at, announced_at, excluded, "
    "exclusion_reason"
)

LIST = f"""
SELECT {_COLUMNS} FROM maintenance_windows
WHERE ($1::timestamptz IS NULL OR ends_at > $1) ORDER BY starts_at DESC, id DESC LIMIT $2 OFFSET $3
"""
COUNT = "SELECT count(*) FROM maintenance_windows WHERE ($1::timestamptz IS NULL OR ends_at > $1)"
GET = f"SELECT {_COLUMNS} FROM maintenance_windows WHERE id = $1"
INSERT = f"""
INSERT INTO maintenance_windows (title, description, affected_services, starts_at, ends_at, announced_at, excluded,
                                 exclusion_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}
"""
UPDATE = f"""
UPDATE maintenance_windows SET title = $2, description = $3, affected_services = $4, starts_at = $5, ends_at = $6,
       excluded = $7, exclusion_reason = $8
WHERE id = $1 RETURNING {_COLUMNS}
"""
ANNOUNCED_AT = "SELECT announced_at FROM maintenance_windows WHERE id = $1"
DELETE = "DELETE FROM maintenance_windows WHERE id = $1 RETURNING title"

SERVICE_FOR_UPDATE = """
SELECT id, name, description, interval_s, timeout_s, latency_target_ms, tier, check_config, is_active
FROM services WHERE id = $1 FOR UPDATE
"""
SERVICE_UPDATE = """
UPDATE services SET name = $2, description = $3, interval_s = $4, timeout_s = $5, latency_target_ms = $6,
       tier = $7, check_config = $8::jsonb, updated_at = now()
WHERE id = $1
RETURNING id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
          check_config, allow_private, position, is_active, managed_by
"""
