"""SQL of the prober fleet (heartbeats) and of its catch-up lookups."""

# Heartbeats of one region are serialised so that renew/re-register decisions see each other.
LOCK_REGION = "SELECT pg_advisory_xact_lock(hashtext('slamon-prober:' || $1))"

MINE = """
SELECT expires_at, now() AS db_now,
       EXISTS (SELECT 1 FROM prober_heartbeats o
               WHERE o.region = $2 AND o.prober_id <> $1 AND o.last_seen > p.expires_at) AS superseded
FROM prober_heartbeats p WHERE prober_id = $1 AND region = $2
"""

OTHERS_LIVE = """
SELECT EXISTS (SELECT 1 FROM prober_heartbeats WHERE region = $1 AND prober_id <> $2 AND expires_at > now())
"""

RENEW = """
UPDATE prober_heartbeats
SET expires_at = now() + make_interval(secs => $2), last_seen = now(), assigned_services = $3, stopped_at = NULL
WHERE prober_id = $1
"""

REGISTER = """
INSERT INTO prober_heartbeats (prober_id, region, hostname, pid, active_from, expires_at, assigned_services)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), now() + make_interval(secs => $6), $7)
ON CONFLICT (prober_id) DO UPDATE SET
    region = EXCLUDED.region, hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, started_at = now(),
    active_from = EXCLUDED.active_from, expires_at = EXCLUDED.expires_at, last_seen = now(),
    assigned_services = EXCLUDED.assigned_services, stopped_at = NULL
"""

MEMBERS = """
SELECT prober_id, extract(epoch FROM active_from)::float8 AS active_from,
       extract(epoch FROM expires_at)::float8 AS expires_at, extract(epoch FROM now())::float8 AS db_now
FROM prober_heartbeats
WHERE region = $1 AND expires_at > now() - make_interval(secs => $2)
"""

FORGET_OLD = "DELETE FROM prober_heartbeats WHERE region = $1 AND expires_at < now() - interval '1 day'"

# A graceful stop ends the prober's eligibility now; it has already stopped scheduling slots.
STOP = """
UPDATE prober_heartbeats SET expires_at = least(expires_at, now()), stopped_at = now()
WHERE prober_id = $1
"""

# Which of these (service, slot) pairs already have a result from this region.
CHECKED_SLOTS = """
SELECT c.service_id, extract(epoch FROM c.ts)::float8 AS slot
FROM checks c
JOIN unnest($2::text[], $3::timestamptz[]) AS want(service_id, ts)
  ON c.service_id = want.service_id AND c.ts = want.ts
WHERE c.region = $1
"""

# Certificate expiry per (service, region): $1 region, $2 service ids, $3 not_after, $4 checked_at.
RECORD_CERTIFICATES = """
INSERT INTO service_certificates (service_id, region, not_after, checked_at)
SELECT s.service_id, $1, s.not_after, s.checked_at
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS s(service_id, not_after, checked_at)
WHERE EXISTS (SELECT 1 FROM services v WHERE v.id = s.service_id)
ON CONFLICT (service_id, region) DO UPDATE
SET not_after = EXCLUDED.not_after, checked_at = EXCLUDED.checked_at
"""
