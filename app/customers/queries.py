"""SQL of customers, their covered services, target overrides and frozen statements (sql/190)."""

_COLUMNS = """
c.id, c.name, c.contacts, c.tier, c.monthly_fee, c.currency, c.starts_on, c.managed_by, c.created_at, c.updated_at,
coalesce((SELECT array_agg(s.service_id ORDER BY s.position, s.service_id)
          FROM customer_services s WHERE s.customer_id = c.id), '{}') AS services
"""

LIST = f"SELECT {_COLUMNS} FROM customers c ORDER BY c.position, c.id"
GET = f"SELECT {_COLUMNS} FROM customers c WHERE c.id = $1"
GET_FOR_UPDATE = "SELECT id, managed_by FROM customers WHERE id = $1 FOR UPDATE"

# $1 id .. $7 starts_on, $8 managed_by, $9 position. Inserts only: None when the id is taken.
INSERT = """
INSERT INTO customers (id, name, contacts, tier, monthly_fee, currency, starts_on, managed_by, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""

UPDATE = """
UPDATE customers SET name = $2, contacts = $3, tier = $4, monthly_fee = $5, currency = $6, starts_on = $7,
       updated_at = now()
WHERE id = $1
RETURNING id
"""

# customers.toml's sync: insert or take over (the file wins), in the file's order.
UPSERT = """
INSERT INTO customers (id, name, contacts, tier, monthly_fee, currency, starts_on, managed_by, position)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'config', $8)
ON CONFLICT (id) DO UPDATE SET name = $2, contacts = $3, tier = $4, monthly_fee = $5, currency = $6,
       starts_on = $7, managed_by = 'config', position = $8, updated_at = now()
RETURNING (xmax = 0) AS inserted
"""

# The file's customers it no longer names. The API's are never touched.
DELETE_MISSING_CONFIG = """
DELETE FROM customers WHERE managed_by = 'config' AND NOT (id = ANY($1::text[])) RETURNING id
"""

DELETE = "DELETE FROM customers WHERE id = $1 RETURNING name"

CLEAR_SERVICES = "DELETE FROM customer_services WHERE customer_id = $1"
ADD_SERVICES = """
INSERT INTO customer_services (customer_id, service_id, position)
SELECT $1, s.id, s.ord FROM unnest($2::text[]) WITH ORDINALITY AS s (id, ord)
"""

EXISTING_SERVICES = "SELECT id FROM services WHERE id = ANY($1::text[])"

OVERRIDES = """
SELECT id, customer_id, availability, starts_at, ends_at, reason, announced_at, effective, effectiveness_note
FROM customer_target_overrides WHERE customer_id = $1 ORDER BY starts_at, id
"""

INSERT_OVERRIDE = """
INSERT INTO customer_target_overrides
    (customer_id, availability, starts_at, ends_at, reason, announced_at, effective, effectiveness_note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, customer_id, availability, starts_at, ends_at, reason, announced_at, effective, effectiveness_note
"""

DELETE_OVERRIDE = "DELETE FROM customer_target_overrides WHERE customer_id = $1 AND id = $2 RETURNING id"

# Effective overrides overlapping [$2, $3): the lowest target among them is the period's target.
EFFECTIVE_OVERRIDES_IN = """
SELECT id, availability, starts_at, ends_at, reason, announced_at
FROM customer_target_overrides
WHERE customer_id = $1 AND effective AND starts_at < $3 AND ends_at > $2
ORDER BY availability, starts_at, id
"""

# Covered services with the fields the per-service readers need.
COVERED_SERVICES = """
SELECT v.id, v.name, v.tier, v.interval_s, v.latency_target_ms, v.created_at
FROM customer_services s JOIN services v ON v.id = s.service_id
WHERE s.customer_id = $1
ORDER BY s.position, v.id
"""

STATEMENT_LATEST = """
SELECT customer_id, month, revision, timezone, figures::text AS figures, reason, author, created_at
FROM customer_statements WHERE customer_id = $1 AND month = $2
ORDER BY revision DESC LIMIT 1
"""

STATEMENT_REVISION = """
SELECT customer_id, month, revision, timezone, figures::text AS figures, reason, author, created_at
FROM customer_statements WHERE customer_id = $1 AND month = $2 AND revision = $3
"""

STATEMENT_REVISIONS = """
SELECT revision, reason, author, created_at FROM customer_statements
WHERE customer_id = $1 AND month = $2 ORDER BY revision
"""

STATEMENT_INSERT_FIRST = """
INSERT INTO customer_statements (customer_id, month, revision, timezone, figures)
VALUES ($1, $2, 1, $3, $4::json)
ON CONFLICT (customer_id, month, revision) DO NOTHING
RETURNING revision, created_at
"""

STATEMENT_NEXT_REVISION = """
SELECT coalesce(max(revision), 0) + 1 FROM customer_statements WHERE customer_id = $1 AND month = $2
"""

STATEMENT_INSERT_REVISION = """
INSERT INTO customer_statements (customer_id, month, revision, timezone, figures, reason, author)
VALUES ($1, $2, $3, $4, $5::json, $6, $7)
RETURNING revision, created_at
"""

STATEMENT_CLOSED = "SELECT customer_id FROM customer_statements WHERE month = $1 AND revision = 1"

LOCK_STATEMENT = "SELECT pg_advisory_lock(hashtext('statement:' || $1 || ':' || $2::date::text))"
UNLOCK_STATEMENT = "SELECT pg_advisory_unlock(hashtext('statement:' || $1 || ':' || $2::date::text))"

# Statement delivery (sql/240, app/customers/delivery.py) ------------------------------------------------
STATEMENT_DELIVERIES_OF = """
SELECT event_key, revision, recipients, requested_by, created_at FROM statement_deliveries
WHERE customer_id = $1 AND month = $2 ORDER BY created_at, event_key
"""

# A receiver the statement delivery owns (a contact's email, the statements webhook): taken over as the
# settings and contracts say now, active, and only for statements. $1 name, $2 kind, $3 url, $4 email,
# $5 secret, $6 allow_private, $7 owner.
UPSERT_RECEIVER = """
INSERT INTO subscriptions (name, kind, url, email, secret, events, allow_private, active, statement_owner)
VALUES ($1, $2, $3, $4, $5, '{statement.ready}', $6, true, $7)
ON CONFLICT (statement_owner, kind, coalesce(lower(email), url)) WHERE statement_owner IS NOT NULL
DO UPDATE SET name = $1, secret = $5, allow_private = $6, active = true, events = '{statement.ready}',
              service_ids = '{}', updated_at = now()
RETURNING id
"""

# The statement's event, already dispatched (the fan-out never sees it): NULL when its key exists.
INSERT_STATEMENT_EVENT = """
INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at, dispatched_at)
VALUES ($1, 'statement.ready', $2, $3::jsonb, $4, now())
ON CONFLICT (event_key) DO NOTHING RETURNING id
"""
INSERT_ATTACHMENT = """
INSERT INTO notification_attachments (event_id, position, filename, content_type, body) VALUES ($1, $2, $3, $4, $5)
"""
INSERT_DELIVERIES = """
INSERT INTO notification_deliveries (subscription_id, event_id, event_key)
SELECT s, $1, $2 FROM unnest($3::bigint[]) AS s
ON CONFLICT (subscription_id, event_key) DO NOTHING
RETURNING id::text
"""
INSERT_STATEMENT_DELIVERY = """
INSERT INTO statement_deliveries (customer_id, month, event_key, revision, recipients, requested_by)
VALUES ($1, $2, $3, $4, $5, $6)
"""

# The outcome of a delivery run: every delivery of its events, with the receiver.
DELIVERY_OUTCOMES = """
SELECT d.id::text, d.event_key, d.status, d.attempts, d.last_error, d.completed_at, s.kind,
       coalesce(s.email, s.url) AS receiver
FROM notification_deliveries d JOIN subscriptions s ON s.id = d.subscription_id
WHERE d.event_key = ANY($1::text[]) ORDER BY d.event_key, s.kind, receiver
"""
