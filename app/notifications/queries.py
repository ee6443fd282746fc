"""SQL of subscriptions, the event outbox, deliveries and their attempts."""

# Outbox writes wake the workers' listener at commit (a rolled-back write wakes nobody).
NOTIFY_CHANNEL = "slamon_notifications"

_SUBSCRIPTION = """id, name, kind, url, email, secret, options, events, service_ids, allow_private, active,
       created_at, updated_at"""

LIST_SUBSCRIPTIONS = f"SELECT {_SUBSCRIPTION} FROM subscriptions ORDER BY id LIMIT $1 OFFSET $2"
COUNT_SUBSCRIPTIONS = "SELECT count(*) FROM subscriptions"
GET_SUBSCRIPTION = f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = $1"
GET_SUBSCRIPTION_FOR_UPDATE = f"SELECT {_SUBSCRIPTION} FROM subscriptions WHERE id = $1 FOR UPDATE"
INSERT_SUBSCRIPTION = f"""
INSERT INTO subscriptions (name, kind, url, email, secret, options, events, service_ids, allow_private, active)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10) RETURNING {_SUBSCRIPTION}
"""
UPDATE_SUBSCRIPTION = f"""
UPDATE subscriptions SET name = $2, kind = $3, url = $4, email = $5, secret = $6, options = $7::jsonb, events = $8,
       service_ids = $9, allow_private = $10, active = $11, updated_at = now()
WHERE id = $1 RETURNING {_SUBSCRIPTION}
"""
DELETE_SUBSCRIPTION = "DELETE FROM subscriptions WHERE id = $1 RETURNING name"

INSERT_EVENT = """
INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at)
VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (event_key) DO NOTHING RETURNING id
"""
WAKE = f"SELECT pg_notify('{NOTIFY_CHANNEL}', $1)"


def _scan_transitions(table: str, opened: str, closed: str, key: str, kind: str, payload: str) -> str:
    """The events of a table's rows opened (`opened` set) or closed (`closed` set) in the last $2 s
    before $1, keyed '<key>:<id>:opened|closed' (once each); `payload` reads the row as `a`, its
    service as `s`. The scans of SLO violations and of both forecast-alert tables."""
    return f"""
WITH transitions AS (
    SELECT a.id, 'opened' AS edge, a.{opened} AS at FROM {table} a
    WHERE a.{opened} > $1::timestamptz - make_interval(secs => $2) AND a.{opened} <= $1
    UNION ALL
    SELECT a.id, 'closed', a.{closed} FROM {table} a
    WHERE a.{closed} > $1::timestamptz - make_interval(secs => $2) AND a.{closed} <= $1
)
INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at)
SELECT '{key}:' || t.id || ':' || t.edge, '{kind}.' || t.edge, ARRAY[a.service_id], {payload}, t.at
FROM transitions t JOIN {table} a ON a.id = t.id LEFT JOIN services s ON s.id = a.service_id
WHERE NOT EXISTS (SELECT 1 FROM notification_events e WHERE e.event_key = '{key}:' || t.id || ':' || t.edge)
ORDER BY t.at
ON CONFLICT (event_key) DO NOTHING
RETURNING event_key
"""


# SLO violations (written by the SLO evaluation): a new row is `opened`, ended_at set is `closed`.
SCAN_SLO_VIOLATIONS = _scan_transitions(
    "slo_violations",
    "started_at",
    "ended_at",
    "slo",
    "slo_violation",
    """jsonb_build_object(
    'violation', jsonb_build_object(
        'id', a.id, 'serviceId', a.service_id, 'serviceName', coalesce(s.name, a.service_id), 'slo', a.slo,
        'severity', a.severity, 'startedAt', a.started_at, 'endedAt', a.ended_at, 'threshold', a.threshold,
        'worstValue', a.worst_value,
        'durationSeconds', floor(extract(epoch FROM a.ended_at - a.started_at))::bigint, 'details', a.details))""",
)

# Forecast alerts (sql/310, written by the forecast cron): a new row is `opened`, closed_at set is `closed`.
SCAN_FORECAST_ALERTS = _scan_transitions(
    "slo_forecast_alerts",
    "opened_at",
    "closed_at",
    "forecast",
    "slo_forecast",
    """jsonb_build_object('forecast', jsonb_build_object(
           'id', a.id, 'serviceId', a.service_id, 'serviceName', coalesce(s.name, a.service_id), 'slo', a.slo,
           'period', a.period, 'openedAt', a.opened_at, 'closedAt', a.closed_at, 'reasons', a.reasons,
           'exhaustsAt', a.exhausts_at, 'missProbability', a.miss_probability, 'details', a.details))""",
)

# Forecast alerts of the stored SLO definitions (sql/312): the same events, the definition's name as
# the SLO; their own keys ('defforecast:'), and `definition` in the payload (PagerDuty's dedup key).
SCAN_DEFINITION_FORECAST_ALERTS = _scan_transitions(
    "slo_definition_forecast_alerts",
    "opened_at",
    "closed_at",
    "defforecast",
    "slo_forecast",
    """jsonb_build_object('forecast', jsonb_build_object(
           'id', a.id, 'serviceId', a.service_id, 'serviceName', coalesce(s.name, a.service_id), 'slo', a.definition,
           'definition', a.definition, 'period', a.period, 'openedAt', a.opened_at, 'closedAt', a.closed_at,
           'reasons', a.reasons, 'exhaustsAt', a.exhausts_at, 'missProbability', a.miss_probability,
           'details', a.details))""",
)


# Maintenance windows by time. The key carries the boundary, so a rescheduled window is announced
# again at its new time; a window recorded after it ended (created_at >= ends_at) is history, not news.
SCAN_MAINTENANCE = """
WITH transitions AS (
    SELECT w.id, 'started' AS edge, w.starts_at AS at FROM maintenance_windows w
    WHERE w.starts_at > $1::timestamptz - make_interval(secs => $2) AND w.starts_at <= $1 AND w.created_at < w.ends_at
    UNION ALL
    SELECT w.id, 'ended', w.ends_at FROM maintenance_windows w
    WHERE w.ends_at > $1::timestamptz - make_interval(secs => $2) AND w.ends_at <= $1 AND w.created_at < w.ends_at
), keyed AS (
    SELECT t.*, 'maintenance:' || t.id || ':' || t.edge || ':' || floor(extract(epoch FROM t.at))::bigint AS event_key
    FROM transitions t
)
INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at)
SELECT k.event_key, 'maintenance.' || k.edge, w.affected_services,
       jsonb_build_object('maintenance', jsonb_build_object(
           'id', w.id, 'title', w.title, 'description', w.description, 'affectedServices', w.affected_services,
           'startsAt', w.starts_at, 'endsAt', w.ends_at)), k.at
FROM keyed k JOIN maintenance_windows w ON w.id = k.id
WHERE NOT EXISTS (SELECT 1 FROM notification_events e WHERE e.event_key = k.event_key)
ORDER BY k.at
ON CONFLICT (event_key) DO NOTHING
RETURNING event_key
"""

# Fan-out: each undispatched event becomes one delivery per matching active subscription, in one
# statement; events locked by another worker's fan-out are skipped, not waited for.
DISPATCH = """
WITH pending AS (
    SELECT id, event_key, kind, service_ids FROM notification_events
    WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
), created AS (
    INSERT INTO notification_deliveries (subscription_id, event_id, event_key)
    SELECT s.id, p.id, p.event_key FROM pending p JOIN subscriptions s ON s.active
        AND (cardinality(s.events) = 0 OR p.kind = ANY (s.events))
        AND (cardinality(s.service_ids) = 0 OR s.service_ids && p.service_ids)
    ORDER BY p.id, s.id
    ON CONFLICT (subscription_id, event_key) DO NOTHING
    RETURNING id
), marked AS (
    UPDATE notification_events e SET dispatched_at = now() FROM pending p WHERE e.id = p.id RETURNING e.id
)
SELECT (SELECT count(*) FROM marked) AS events, (SELECT count(*) FROM created) AS deliveries
"""

# A test event goes to one subscription only: recorded as dispatched, with its delivery.
INSERT_TEST_DELIVERY = """
WITH event AS (
    INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at, dispatched_at)
    VALUES ($2, 'test', '{}', $3::jsonb, now(), now()) RETURNING id, event_key
)
INSERT INTO notification_deliveries (subscription_id, event_id, event_key)
SELECT $1, id, event_key FROM event RETURNING id
"""

DUE_DELIVERIES = """
SELECT id, attempts FROM notification_deliveries
WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now())
ORDER BY next_attempt_at LIMIT $1
"""

# An attempt starts only on a due delivery nobody else holds: the row update is the lock, committed
# before anything is sent, so two jobs for one delivery never send at once.
CLAIM = """
WITH claimed AS (
    UPDATE notification_deliveries SET attempts = attempts + 1, lease_until = now() + make_interval(secs => $2)
    WHERE id = $1 AND status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now())
    RETURNING id, subscription_id, event_id, attempts
), logged AS (
    INSERT INTO notification_attempts (delivery_id, attempt) SELECT id, attempts FROM claimed
)
SELECT c.id, c.attempts, c.event_id, e.kind AS event_kind, e.event_key, e.payload, e.occurred_at,
       e.service_ids AS services,
       s.id AS subscription_id, s.name, s.kind, s.url, s.email, s.secret, s.options, s.allow_private, s.active,
       s.public, s.link_nonce
FROM claimed c JOIN notification_events e ON e.id = c.event_id JOIN subscriptions s ON s.id = c.subscription_id
"""

# The files an event carries (sql/240), in order: what an email attaches.
ATTACHMENTS = "SELECT filename, content_type, body FROM notification_attachments WHERE event_id = $1 ORDER BY position"

FINISH_ATTEMPT = """
UPDATE notification_attempts SET finished_at = now(), status_code = $3, error = $4, response_body = $5
WHERE delivery_id = $1 AND attempt = $2
"""
# Success counts whoever's lease it was: the receiver has the message.
MARK_DELIVERED = """
UPDATE notification_deliveries SET status = 'delivered', completed_at = now(), lease_until = NULL,
       last_status_code = $2, last_error = NULL
WHERE id = $1 AND status = 'pending'
"""
# A failed attempt schedules the next one after $5 seconds, or gives up ($5 NULL); only while this
# attempt is still the latest (a slower twin whose lease ran out must not overwrite a newer outcome).
MARK_FAILED = """
UPDATE notification_deliveries SET lease_until = NULL, last_status_code = $3, last_error = $4,
       status = CASE WHEN $5::float8 IS NULL THEN 'failed' ELSE 'pending' END,
       next_attempt_at = CASE WHEN $5::float8 IS NULL THEN next_attempt_at
                              ELSE now() + make_interval(secs => $5::float8) END,
       completed_at = CASE WHEN $5::float8 IS NULL THEN now() END
WHERE id = $1 AND attempts = $2 AND status = 'pending'
RETURNING status, next_attempt_at, attempts
"""

_DELIVERY = """d.id, d.event_key, e.kind AS event_kind, e.occurred_at, d.status, d.attempts, d.next_attempt_at,
       d.last_status_code, d.last_error, d.created_at, d.completed_at"""
LIST_DELIVERIES = f"""
SELECT {_DELIVERY} FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
ORDER BY d.created_at DESC, d.id LIMIT $3 OFFSET $4
"""
COUNT_DELIVERIES = """
SELECT count(*) FROM notification_deliveries d WHERE d.subscription_id = $1 AND ($2::text IS NULL OR d.status = $2)
"""
ATTEMPTS_OF = """
SELECT delivery_id, attempt, started_at, finished_at, status_code, error, response_body
FROM notification_attempts WHERE delivery_id = ANY ($1::uuid[]) ORDER BY delivery_id, attempt
"""
