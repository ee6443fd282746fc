"""SQL of public subscriptions (sql/220_public_subscriptions.sql) and their rate limits."""

_PUBLIC = """id, kind, url, email, service_ids, active, confirm_nonce, confirmed_at, link_nonce, unsubscribed_at"""

# A new receiver is inserted pending (inactive); an existing one is left to the caller (locked).
INSERT_PENDING = f"""
INSERT INTO subscriptions (name, kind, url, email, events, service_ids, active, public, confirm_nonce, link_nonce,
                           allow_private)
VALUES ($1, $2, $3, $4, $5, $6, false, true, $7, $8, $9)
ON CONFLICT (kind, coalesce(lower(email), url)) WHERE public DO NOTHING
RETURNING {_PUBLIC}
"""
LOCK_RECEIVER = f"""
SELECT {_PUBLIC} FROM subscriptions WHERE public AND kind = $1 AND coalesce(lower(email), url) = $2 FOR UPDATE
"""
# A pending or unsubscribed receiver asks again: its choice and a new confirmation replace the old.
RENEW_PENDING = """
UPDATE subscriptions SET service_ids = $2, confirm_nonce = $3, active = false, updated_at = now() WHERE id = $1
"""
GET_PUBLIC = f"SELECT {_PUBLIC} FROM subscriptions WHERE id = $1 AND public"

# The confirmation works once: the nonce it carries is cleared by the first use.
CONFIRM = f"""
UPDATE subscriptions SET active = true, confirmed_at = now(), confirm_nonce = NULL, unsubscribed_at = NULL,
       updated_at = now()
WHERE id = $1 AND public AND confirm_nonce = $2
RETURNING {_PUBLIC}
"""
SET_SERVICES = f"""
UPDATE subscriptions SET service_ids = $3, updated_at = now() WHERE id = $1 AND public AND link_nonce = $2
RETURNING {_PUBLIC}
"""
UNSUBSCRIBE = f"""
UPDATE subscriptions SET active = false, confirm_nonce = NULL,
       unsubscribed_at = coalesce(unsubscribed_at, now()), updated_at = now()
WHERE id = $1 AND public AND link_nonce = $2
RETURNING {_PUBLIC}
"""

# A message to the owner of one receiver (confirmation, reminder): an event recorded as dispatched,
# with its one delivery, like an admin's test send (app/notifications/queries.py).
INSERT_OWNER_DELIVERY = """
WITH event AS (
    INSERT INTO notification_events (event_key, kind, service_ids, payload, occurred_at, dispatched_at)
    VALUES ($2, $3, $4, $5::jsonb, now(), now()) RETURNING id, event_key
)
INSERT INTO notification_deliveries (subscription_id, event_id, event_key)
SELECT $1, id, event_key FROM event RETURNING id
"""

# One more hit in the key's fixed window ($3 long); a window older than that starts again at 1.
HIT = """
INSERT INTO public_rate_limits AS r (key, window_start, hits) VALUES ($1, $2, 1)
ON CONFLICT (key) DO UPDATE SET
    window_start = CASE WHEN r.window_start <= $2 - $3::interval THEN $2 ELSE r.window_start END,
    hits = CASE WHEN r.window_start <= $2 - $3::interval THEN 1 ELSE r.hits + 1 END
RETURNING hits, window_start
"""

# Counters whose window has passed are dropped, a bounded number per request (they would start again at 1).
PRUNE = """
DELETE FROM public_rate_limits WHERE key IN (
    SELECT key FROM public_rate_limits WHERE window_start <= $1::timestamptz - $2::interval LIMIT 100
)
"""

# Receivers asked for but never confirmed are forgotten once their last confirmation link expired a day
# ago ($2): the public form must not keep addresses nobody confirmed.
FORGET_UNCONFIRMED = """
DELETE FROM subscriptions WHERE id IN (
    SELECT id FROM subscriptions WHERE public AND confirmed_at IS NULL AND updated_at <= $1::timestamptz - $2::interval
    LIMIT 1000
)
"""

# A subscriber who answered the challenge delivery with its challenge is confirmed by that answer.
CONFIRM_BY_ECHO = """
UPDATE subscriptions SET active = true, confirmed_at = now(), confirm_nonce = NULL, unsubscribed_at = NULL,
       updated_at = now()
WHERE id = $1 AND public AND confirm_nonce = $2
"""

# The services a subscriber can choose, in the status page's order.
CHOOSABLE_SERVICES = "SELECT id, name FROM services WHERE is_active ORDER BY position, id"
