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

# --- the sweep's detection of many services at once (app/detection/batch.py) ----------------------

LOCK_SERVICES = """
SELECT pg_advisory_xact_lock(5308418, hashtext(s.id)) FROM (SELECT id FROM unnest($1::text[]) id ORDER BY id) s
"""

SERVICES = """
SELECT id, name, interval_s, timeout_s, latency_target_ms, is_active FROM services WHERE id = ANY($1::text[])
"""

# ENSURE_STATE of every family $3 of every service $1, with $2 its first anchor.
ENSURE_STATES = """
INSERT INTO detection_state (service_id, family, anchor_ts)
SELECT i.service_id, f.family, i.anchor_ts
FROM unnest($1::text[], $2::timestamptz[]) AS i(service_id, anchor_ts) CROSS JOIN unnest($3::text[]) AS f(family)
ON CONFLICT (service_id, family) DO NOTHING
"""

STATES = """
SELECT service_id, family, anchor_ts, bad_run, severe_run, good_run, incident_id, phase, last_action_ts
FROM detection_state WHERE service_id = ANY($1::text[])
"""

# SLOTS of every service $1 in ($2 (its own), $3], per service oldest first.
SLOTS_MANY = f"""
SELECT s.service_id, s.ts, s.ok, s.latency_ms
FROM unnest($1::text[], $2::timestamptz[]) AS i(service_id, since)
CROSS JOIN LATERAL ({CHECK_SLOTS.format(where="c.service_id = i.service_id AND c.ts > i.since AND c.ts <= $3")}) s
WHERE NOT EXISTS (SELECT 1 FROM maintenance_windows w
                  WHERE s.service_id = ANY(w.affected_services) AND s.ts >= w.starts_at AND s.ts < w.ends_at)
ORDER BY s.service_id, s.ts
"""

# The incidents the states of the services $1 name ($2), and their open detected incidents.
INCIDENTS_OF = """
SELECT id, status, cause, version, detected_service_id,
       CASE WHEN cause = 'failures' THEN 'failures' ELSE 'latency' END AS family
FROM incidents
WHERE id = ANY($2::text[]) OR (detected_service_id = ANY($1::text[]) AND status <> 'resolved')
ORDER BY id
"""

# NEXT_SLOT of every service $1.
NEXT_SLOTS = """
SELECT i.service_id, (SELECT min(ts) FROM checks WHERE service_id = i.service_id AND ts > $2) AS next_slot
FROM unnest($1::text[]) AS i(service_id)
"""

# SAVE_STATE of many (service, family) pairs: the columns as arrays in SAVE_STATE's order.
SAVE_STATES = """
UPDATE detection_state d
SET anchor_ts = v.anchor_ts, bad_run = v.bad_run, severe_run = v.severe_run, good_run = v.good_run,
    incident_id = v.incident_id, phase = v.phase, last_action_ts = v.last_action_ts, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::int[], $6::int[], $7::text[], $8::text[],
            $9::timestamptz[])
     AS v(service_id, family, anchor_ts, bad_run, severe_run, good_run, incident_id, phase, last_action_ts)
WHERE d.service_id = v.service_id AND d.family = v.family
"""
