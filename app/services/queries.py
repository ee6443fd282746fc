"""SQL of the service catalog."""

_COLUMNS = """id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
       check_config, allow_private, position, is_active, managed_by"""

# The file's services in its order, then those created through the API in creation order.
LIST_ACTIVE = f"SELECT {_COLUMNS} FROM services WHERE is_active ORDER BY managed_by = 'api', position, id"

GET = f"SELECT {_COLUMNS} FROM services WHERE id = $1"

UPSERT = """
INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s,
                      latency_target_ms, tier, check_config, allow_private, position, is_active, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, true, 'config')
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, description = EXCLUDED.description, kind = EXCLUDED.kind,
    endpoint_url = EXCLUDED.endpoint_url, interval_s = EXCLUDED.interval_s,
    timeout_s = EXCLUDED.timeout_s, latency_target_ms = EXCLUDED.latency_target_ms,
    tier = EXCLUDED.tier, check_config = EXCLUDED.check_config,
    allow_private = EXCLUDED.allow_private, position = EXCLUDED.position, is_active = true,
    managed_by = 'config', updated_at = now()
WHERE (services.name, services.description, services.kind, services.endpoint_url,
       services.interval_s, services.timeout_s, services.latency_target_ms, services.tier,
       services.check_config, services.allow_private, services.position, services.is_active,
       services.managed_by)
  IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.description, EXCLUDED.kind, EXCLUDED.endpoint_url,
       EXCLUDED.interval_s, EXCLUDED.timeout_s, EXCLUDED.latency_target_ms, EXCLUDED.tier,
       EXCLUDED.check_config, EXCLUDED.allow_private, EXCLUDED.position, true, 'config')
RETURNING id, (xmax = 0) AS inserted
"""

# Settings the rollups depend on (check interval -> downtime, latency target -> over-target).
ROLLUP_INPUTS = "SELECT interval_s, latency_target_ms FROM services WHERE id = $1"

# Only the file's own services: those created through the API are not the file's to remove.
DEACTIVATE_MISSING = """
UPDATE services SET is_active = false, updated_at = now()
WHERE is_active AND managed_by = 'config' AND NOT (id = ANY($1::text[]))
RETURNING id
"""

# An API-created service; nothing when the id is taken (by a service of either kind, archived or not).
CREATE = f"""
INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
                      check_config, allow_private, position, is_active, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11,
        (SELECT coalesce(max(position) + 1, 0) FROM services WHERE managed_by = 'api'), true, 'api')
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""

GET_FOR_UPDATE = f"SELECT {_COLUMNS} FROM services WHERE id = $1 FOR UPDATE"

ARCHIVE = f"UPDATE services SET is_active = false, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}"

EXISTING_IDS = "SELECT id FROM services WHERE id = ANY($1::text[])"

# The soonest expiry any region's probers saw, per service (TLS targets only).
CERTIFICATE_EXPIRIES = "SELECT service_id, min(not_after) AS not_after FROM service_certificates GROUP BY service_id"
