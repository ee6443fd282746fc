"""SQL of automatic incident detection."""

from app.rollups.queries import CHECK_SLOTS

# One detection at a time per service (two workers, or the prober's trigger and the cron).
LOCK_SERVICE = "SELECT pg_advisory_xact_lock(5308418, hashtext($1))"

SERVICE = """
SELECT id, name, interval_s, timeout_s, latency_target_ms, is_active FROM services WHERE id = $1
"""

ACTIVE_SERVICE_IDS = "SELECT id FROM services WHERE is_active ORDER BY position, id"

# The first slot stored after $2 (ahead of the clock by up to the ingest's allowed skew).
NEXT_SLOT = "SELECT min(ts) FROM checks WHERE service_id = $1 AND ts > $2"

SLOT_STORED = "SELECT EXISTS (SELECT 1 FROM checks WHERE service_id = $1 AND ts = $2)"

ENSURE_STATE = """
INSERT INTO detection_state (service_id, family, anchor_ts) VALUES ($1, $2, $3)
ON CONFLICT (service_id, family) DO NOTHING
"""

STATE = """
SELECT family, anchor_ts, bad_run, severe_run, good_run, incident_id, phase, last_action_ts
FROM detection_state WHERE service_id = $1
"""

SAVE_STATE = """
UPDATE detection_state
SET anchor_ts = $3, bad_run = $4, severe_run = $5, good_run = $6, incident_id = $7, phase = $8,
    last_action_ts = $9, updated_at = now()
WHERE service_id = $1 AND family = $2
"""

# Slots (majority of regions, ties fail: the rollups' definition) of one service in ($2, $3], oldest
# first; slots inside a maintenance window of the service are not judged.
SLOTS = f"""
SELECT s.ts, s.ok, s.latency_ms
FROM ({CHECK_SLOTS.format(where="c.service_id = $1 AND c.ts > $2 AND c.ts <= $3")}) s
WHERE NOT EXISTS (SELECT 1 FROM maintenance_windows w
                  WHERE $1 = ANY(w.affected_services) AND s.ts >= w.starts_at AND s.ts < w.ends_at)
ORDER BY s.ts
"""

INCIDENT = "SELECT id, status, cause, version FROM incidents WHERE id = $1"

# The open detected incident of a service and family, should the state have lost track of it.
OPEN_DETECTED = """
SELECT id FROM incidents
WHERE detected_service_id = $1 AND status <> 'resolved'
  AND (CASE WHEN cause = 'failures' THEN 'failures' ELSE 'latency' END) = $2
"""

MARK_DETECTED = "UPDATE incidents SET cause = $2, detected_service_id = $3 WHERE id = $1"

# What the failed checks of a run said, most frequent first: the kind of failure (public notes) and the
# raw error (the audit log only: it may name the target's host, address or internals).
FAILURE_SUMMARY = """
SELECT coalesce(error_type, 'failed') AS error_type, status_code, coalesce(error_message, '') AS error_message,
       count(*) AS n
FROM checks WHERE service_id = $1 AND ts = ANY($2::timestamptz[]) AND NOT ok
GROUP BY 1, 2, 3 ORDER BY n DESC, 1, 2, 3
"""
