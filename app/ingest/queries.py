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

KEY_VERSION = "SELECT key_version FROM ingest_keys WHERE service_id = $1"
CREATE_KEY = """
INSERT INTO ingest_keys (service_id) VALUES ($1)
ON CONFLICT (service_id) DO UPDATE SET service_id = EXCLUDED.service_id
RETURNING key_version
"""

# A service with a URL is probed: its check results come from the probers only (SLA-MATH.md).
SERVICE_SOURCE = "SELECT endpoint_url IS NOT NULL AS probed, is_active FROM services WHERE id = $1"
REGIONS = "SELECT name FROM regions ORDER BY name"
