"""SQL of the service catalog."""

LIST_ACTIVE = """
SELECT id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
       check_config, allow_private, position
FROM services WHERE is_active ORDER BY position, id
"""

GET = """
SELECT id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
       check_config, allow_private, position, is_active
FROM services WHERE id = $1
"""

UPSERT = """
INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s,
                      latency_target_ms, tier, check_config, allow_private, position, is_active)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, true)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, description = EXCLUDED.description, kind = EXCLUDED.kind,
    endpoint_url = EXCLUDED.endpoint_url, interval_s = EXCLUDED.interval_s,
    timeout_s = EXCLUDED.timeout_s, latency_target_ms = EXCLUDED.latency_target_ms,
    tier = EXCLUDED.tier, check_config = EXCLUDED.check_config,
    allow_private = EXCLUDED.allow_private, position = EXCLUDED.position, is_active = true,
    updated_at = now()
WHERE (services.name, services.description, services.kind, services.endpoint_url,
       services.interval_s, services.timeout_s, services.latency_target_ms, services.tier,
       services.check_config, services.allow_private, services.position, services.is_active)
  IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.description, EXCLUDED.kind, EXCLUDED.endpoint_url,
       EXCLUDED.interval_s, EXCLUDED.timeout_s, EXCLUDED.latency_target_ms, EXCLUDED.tier,
       EXCLUDED.check_config, EXCLUDED.allow_private, EXCLUDED.position, true)
RETURNING id, (xmax = 0) AS inserted
"""

# Settings the rollups depend on (check interval -> downtime, latency target -> over-target).
ROLLUP_INPUTS = "SELECT interval_s, latency_target_ms FROM services WHERE id = $1"

DEACTIVATE_MISSING = """
UPDATE services SET is_active = false, updated_at = now()
WHERE is_active AND NOT (id = ANY($1::text[]))
RETURNING id
"""

EXISTING_IDS = "SELECT id FROM services WHERE id = ANY($1::text[])"

# The soonest expiry any region's probers saw, per service (TLS targets only).
CERTIFICATE_EXPIRIES = "SELECT service_id, min(not_after) AS not_after FROM service_certificates GROUP BY service_id"
