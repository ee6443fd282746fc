"""SQL of escalation policies, incident escalations and the escalation timeline (sql/210)."""

_POLICY = "id, name, position, enabled, priorities, service_ids, levels, managed_by, created_at, updated_at"

LIST_POLICIES = f"SELECT {_POLICY} FROM escalation_policies ORDER BY position, id"
ENABLED_POLICIES = f"SELECT {_POLICY} FROM escalation_policies WHERE enabled ORDER BY position, id"
GET_POLICY = f"SELECT {_POLICY} FROM escalation_policies WHERE id = $1"
INSERT_POLICY = f"""
INSERT INTO escalation_policies (id, name, position, enabled, priorities, service_ids, levels, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'api') ON CONFLICT (id) DO NOTHING RETURNING {_POLICY}
"""
UPDATE_POLICY = f"""
UPDATE escalation_policies SET name = $2, position = $3, enabled = $4, priorities = $5, service_ids = $6,
       levels = $7::jsonb, updated_at = now()
WHERE id = $1 RETURNING {_POLICY}
"""
DELETE_POLICY = "DELETE FROM escalation_policies WHERE id = $1 RETURNING id"
# escalation.toml: upsert what it names (taking over an id the API created), drop the file's others.
UPSERT_CONFIG_POLICY = """
INSERT INTO escalation_policies (id, name, position, enabled, priorities, service_ids, levels, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, 'config')
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, position = EXCLUDED.position, enabled = EXCLUDED.enabled,
    priorities = EXCLUDED.priorities, service_ids = EXCLUDED.service_ids, levels = EXCLUDED.levels,
    managed_by = 'config', updated_at = now()
WHERE (escalation_policies.name, escalation_policies.position, escalation_policies.enabled,
       escalation_policies.priorities, escalation_policies.service_ids, escalation_policies.levels,
       escalation_policies.managed_by)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.position, EXCLUDED.enabled, EXCLUDED.priorities,
                        EXCLUDED.service_ids, EXCLUDED.levels, 'config')
RETURNING id
"""
DELETE_MISSING_CONFIG_POLICIES = (
    "DELETE FROM escalation_policies WHERE managed_by = 'config' AND NOT id = ANY($1::text[]) RETURNING id"
)

# Open incidents, recent enough to page for, that no escalation has started for yet.
UNSTARTED_INCIDENTS = """
SELECT i.id, i.priority, i.affected_services, i.created_at FROM incidents i
WHERE i.status <> 'resolved' AND i.created_at > $1::timestamptz - make_interval(secs => $2)
  AND NOT EXISTS (SELECT 1 FROM incident_escalations e WHERE e.incident_id = i.id)
ORDER BY i.created_at LIMIT 500
"""
START = """
INSERT INTO incident_escalations (incident_id, policy_id, levels, started_at, next_at)
VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (incident_id) DO NOTHING RETURNING incident_id
"""
# Due escalations, each locked by the worker firing it (another worker skips it, never waits).
DUE = """
SELECT incident_id FROM incident_escalations
WHERE stopped_at IS NULL AND next_at <= $1 ORDER BY next_at LIMIT 100
"""
LOCK_DUE = """
SELECT e.*, i.status FROM incident_escalations e JOIN incidents i ON i.id = e.incident_id
WHERE e.incident_id = $1 AND e.stopped_at IS NULL AND e.next_at <= $2
FOR UPDATE OF e SKIP LOCKED
"""
LOCK = "SELECT * FROM incident_escalations WHERE incident_id = $1 FOR UPDATE"
ADVANCE = """
UPDATE incident_escalations
SET next_level = $2, next_at = $3, paged = ARRAY(SELECT DISTINCT unnest(paged || $4::bigint[]))
WHERE incident_id = $1
"""
ACKNOWLEDGE = """
UPDATE incident_escalations SET acknowledged_at = $2, acknowledged_by = $3, stopped_at = $2,
       stop_reason = 'acknowledged'
WHERE incident_id = $1
"""
# Escalations of incidents resolved (or deleted) since: closed once, after an acknowledgement too.
TO_CLOSE = """
SELECT e.incident_id, e.paged, i.id IS NULL AS deleted FROM incident_escalations e
LEFT JOIN incidents i ON i.id = e.incident_id
WHERE (e.stop_reason IS NULL OR e.stop_reason = 'acknowledged') AND (i.id IS NULL OR i.status = 'resolved')
LIMIT 500
"""
CLOSE = """
UPDATE incident_escalations SET stopped_at = coalesce(stopped_at, $2), stop_reason = $3
WHERE incident_id = $1 AND (stop_reason IS NULL OR stop_reason = 'acknowledged') RETURNING incident_id
"""
# Acknowledged open incidents quiet for the reminder interval: no incident write, acknowledgement or
# reminder since. Locked, so two workers send one reminder.
TO_REMIND = """
SELECT e.incident_id, e.paged, greatest(i.updated_at, e.acknowledged_at, e.reminded_at) AS quiet_since
FROM incident_escalations e JOIN incidents i ON i.id = e.incident_id
WHERE e.stop_reason = 'acknowledged' AND i.status <> 'resolved'
  AND greatest(i.updated_at, e.acknowledged_at, e.reminded_at) <= $1::timestamptz - make_interval(secs => $2)
  -- when escalation resumes ($3), one reminder per quiet spell while a level is left to resume at
  AND NOT ($3 AND coalesce(e.reminded_at >= greatest(i.updated_at, e.acknowledged_at), false)
           AND e.next_level < jsonb_array_length(e.levels))
ORDER BY e.incident_id LIMIT 100
FOR UPDATE OF e SKIP LOCKED
"""
# Acknowledged open incidents still quiet $2 seconds after their reminder, with a level left.
TO_RESUME = """
SELECT e.incident_id, e.levels, e.next_level, e.started_at, e.acknowledged_at, e.acknowledged_by, e.reminded_at
FROM incident_escalations e JOIN incidents i ON i.id = e.incident_id
WHERE e.stop_reason = 'acknowledged' AND i.status <> 'resolved' AND e.reminded_at IS NOT NULL
  AND e.reminded_at >= greatest(i.updated_at, e.acknowledged_at)
  AND e.reminded_at <= $1::timestamptz - make_interval(secs => $2)
  AND e.next_level < jsonb_array_length(e.levels)
ORDER BY e.incident_id LIMIT 100
FOR UPDATE OF e SKIP LOCKED
"""
# Lift the acknowledgement (the timeline keeps it); the next level is due now ($2), the later ones
# keep their spacing: the delays' origin moves by $3 seconds.
RESUME = """
UPDATE incident_escalations
SET started_at = started_at + make_interval(secs => $3), next_at = $2, acknowledged_at = NULL,
    acknowledged_by = NULL, reminded_at = NULL, stopped_at = NULL, stop_reason = NULL
WHERE incident_id = $1
"""
RESUMPTIONS = "SELECT count(*) FROM escalation_log WHERE incident_id = $1 AND action = 'resumed'"
REMINDED = "UPDATE incident_escalations SET reminded_at = $2 WHERE incident_id = $1"
GET_ESCALATION = "SELECT * FROM incident_escalations WHERE incident_id = $1"
TIMELINE = "SELECT at, action, level, actor, details FROM escalation_log WHERE incident_id = $1 ORDER BY id"
LOG = """
INSERT INTO escalation_log (incident_id, at, action, level, actor, details) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
"""

SUBSCRIPTIONS_NAMED = "SELECT id, name FROM subscriptions WHERE name = ANY($1::text[]) AND active ORDER BY id"
# An event for chosen subscriptions only: recorded as dispatched (the fan-out skips it), with one
# delivery per subscription; the rest (claim, attempts, log, retries) is the outbox's (app/notifications).
INSERT_TARGETED = """
WITH event AS (
    INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at, dispatched_at)
    VALUES ($1, $2, $3, $4::jsonb, $5, now()) ON CONFLICT (event_key) DO NOTHING RETURNING id, event_key
)
INSERT INTO notification_deliveries (subscription_id, event_id, event_key)
SELECT s.id, event.id, event.event_key FROM event JOIN subscriptions s ON s.id = ANY($6::bigint[]) AND s.active
ON CONFLICT (subscription_id, event_key) DO NOTHING
RETURNING subscription_id
"""
# A user's paging subscription (sql/250): created on their first page, its address kept the user's.
PAGING_SUBSCRIPTION = """
INSERT INTO subscriptions (name, kind, email, events, paging_user_id) VALUES ($1, 'email', $2, $3, $4)
ON CONFLICT (paging_user_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = now()
RETURNING id
"""
