"""SQL of the one writer into the raw hypertables."""

CHECK_COLUMNS = ("ts", "service_id", "region", "ok", "status_code", "latency_ms", "error_type", "error_message")
API_CALL_COLUMNS = ("ts", "service_id", "endpoint", "method", "status_code", "latency_ms", "request_id")

# Batches are COPYed into a per-connection staging table, then moved with ON CONFLICT DO NOTHING:
# COPY speed, and a replayed batch changes nothing.
STAGE_CHECKS = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage_checks
    (LIKE checks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
MOVE_CHECKS = f"""
INSERT INTO checks ({", ".join(CHECK_COLUMNS)})
SELECT {", ".join(CHECK_COLUMNS)} FROM ingest_stage_checks
ON CONFLICT (service_id, ts, region) DO NOTHING
"""

STAGE_API_CALLS = """
CREATE TEMP TABLE IF NOT EXISTS ingest_stage_api_calls
    (LIKE api_calls INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
MOVE_API_CALLS = f"""
INSERT INTO api_calls ({", ".join(API_CALL_COLUMNS)})
SELECT {", ".join(API_CALL_COLUMNS)} FROM ingest_stage_api_calls
ON CONFLICT (service_id, request_id, ts) WHERE request_id IS NOT NULL DO NOTHING
"""

KNOWN_SERVICES = "SELECT id FROM services WHERE id = ANY($1::text[])"

# --- ingest keys (sql/112): hashed, several per service, revocable ----------------------------
KEY_BY_HASH = """
SELECT k.service_id, k.revoked_at, s.is_active
FROM ingest_keys k JOIN services s ON s.id = k.service_id WHERE k.key_hash = $1
"""
DERIVED_KEY_VERSION = "SELECT key_version FROM ingest_keys_derived WHERE service_id = $1"
ADOPT_DERIVED_KEY = """
WITH gone AS (DELETE FROM ingest_keys_derived WHERE service_id = $1)
INSERT INTO ingest_keys (service_id, key_hash, key_prefix, derived, created_by)
VALUES ($1, $2, $3, true, 'adopted on first use')
ON CONFLICT (key_hash) DO NOTHING
"""
INSERT_KEY = """
INSERT INTO ingest_keys (service_id, key_hash, key_prefix, created_by) VALUES ($1, $2, $3, $4)
RETURNING id, service_id, key_prefix, derived, created_at, created_by, revoked_at, revoked_by
"""
# Revoke a service's active keys (all, or the one with id $3), derived keys not yet adopted included.
REVOKE_KEYS = """
UPDATE ingest_keys SET revoked_at = now(), revoked_by = $2
WHERE service_id = $1 AND revoked_at IS NULL AND ($3::bigint IS NULL OR id = $3)
RETURNING id, key_prefix
"""
FORGET_DERIVED_KEY = "DELETE FROM ingest_keys_derived WHERE service_id = $1 RETURNING key_version"
LIST_KEYS = """
SELECT id, service_id, key_prefix, derived, created_at, created_by, revoked_at, revoked_by
FROM ingest_keys WHERE service_id = $1 ORDER BY id DESC
"""
HAS_DERIVED_KEY = "SELECT EXISTS (SELECT 1 FROM ingest_keys_derived WHERE service_id = $1)"


# A service with a URL is probed: its check results come from the probers only (docs/sla-math.md).
SERVICE_SOURCE = "SELECT endpoint_url IS NOT NULL AS probed, is_active FROM services WHERE id = $1"
REGIONS = "SELECT name FROM regions ORDER BY name"
