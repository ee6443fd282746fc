"""SQL of the service catalog."""

_COLUMNS = """id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
       check_config, allow_private, position, is_active, managed_by"""

# The file's services in its order, then those created through the API in creation order.
LIST_ACTIVE = f"SELECT {_COLUMNS} FROM services WHERE is_active ORDER BY managed_by = 'api', position, id"

GET = f"SELECT {_COLUMNS} FROM services WHERE id = $1"

# Insert, or update a service of the file when anything about it differs (nothing returned otherwise).
_ON_CONFLICT = """ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, description = EXCLUDED.description, kind = EXCLUDED.kind,
    endpoint_url = EXCLUDED.endpoint_url, interval_s = EXCLUDED.interval_s,
    timeout_s = EXCLUDED.timeout_s, latency_target_ms = EXCLUDED.latency_target_ms,
    tier = EXCLUDED.tier, check_config = EXCLUDED.check_config,
    allow_private = EXCLUDED.allow_private, position = EXCLUDED.position, is_active = true,
    managed_by = 'config', updated_at = now()
WHERE (services.name, services.description, services.kind, services.endpoint_url,
       services.interval_s, services.timeout_s, services.latency_target_ms, services.tier,
       services.check_config, services.allow_private, services.position, services.is_active,
       services.managed_by)
  IS DISTINCT FROM
      (EXCLUDED.name, EXCLUDED.description, EXCLUDED.kind, EXCLUDED.endpoint_url,
       EXCLUDED.interval_s, EXCLUDED.timeout_s, EXCLUDED.latency_target_ms, EXCLUDED.tier,
       EXCLUDED.check_config, EXCLUDED.allow_private, EXCLUDED.position, true, 'config')"""

# One service of the file (the tests' fixtures write single services with it).
UPSERT = f"""
INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s,
                      latency_target_ms, tier, check_config, allow_private, position, is_active, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, true, 'config')
{_ON_CONFLICT}
RETURNING id, (xmax = 0) AS inserted
"""

# The file's services upserted in one statement ($1..$12: the columns as arrays, in the file's order):
# the services it inserted or changed, and whether a setting the rollups depend on changed (check
# interval -> downtime, latency target -> over-target). `before` reads the rows as they were. Only
# the new and differing rows reach the INSERT (`changed`): an unchanged catalog locks no row, and
# ON CONFLICT's own test still guards a row changed since this statement's snapshot.
SYNC = f"""
WITH wanted AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::numeric[],
                         $8::int[], $9::text[], $10::text[], $11::boolean[], $12::int[])
         AS w(id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
              check_config, allow_private, position)
),
changed AS (
    SELECT w.*, s.id IS NOT NULL AS known, s.interval_s AS before_interval_s,
           s.latency_target_ms AS before_latency_target_ms
    FROM wanted w LEFT JOIN services s USING (id)
    WHERE s.id IS NULL
       OR (s.name, s.description, s.kind, s.endpoint_url, s.interval_s, s.timeout_s, s.latency_target_ms,
           s.tier, s.check_config, s.allow_private, s.position, s.is_active, s.managed_by)
          IS DISTINCT FROM
          (w.name, w.description, w.kind, w.endpoint_url, w.interval_s, w.timeout_s, w.latency_target_ms,
           w.tier, w.check_config::jsonb, w.allow_private, w.position, true, 'config')
),
before AS (
    SELECT id, before_interval_s AS interval_s, before_latency_target_ms AS latency_target_ms
    FROM changed WHERE known
),
upserted AS (
    INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s,
                          latency_target_ms, tier, check_config, allow_private, position, is_active, managed_by)
    SELECT id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
           check_config::jsonb, allow_private, position, true, 'config'
    FROM changed
    {_ON_CONFLICT}
    RETURNING id, (xmax = 0) AS inserted, position, interval_s, latency_target_ms
)
SELECT u.id, u.inserted,
       (u.interval_s, u.latency_target_ms) IS DISTINCT FROM (b.interval_s, b.latency_target_ms) AND b.id IS NOT NULL
           AS rollup_inputs_changed
FROM upserted u LEFT JOIN before b USING (id)
ORDER BY u.position
"""

# Only the file's own services: those created through the API are not the file's to remove.
DEACTIVATE_MISSING = """
UPDATE services SET is_active = false, updated_at = now()
WHERE is_active AND managed_by = 'config' AND id NOT IN (SELECT unnest($1::text[]))  -- hashed: not 10,000 x n
RETURNING id
"""

# An API-created service; nothing when the id is taken (by a service of either kind, archived or not).
CREATE = f"""
INSERT INTO services (id, name, description, kind, endpoint_url, interval_s, timeout_s, latency_target_ms, tier,
                      check_config, allow_private, position, is_active, managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11,
        (SELECT coalesce(max(position) + 1, 0) FROM services WHERE managed_by = 'api'), true, 'api')
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""

GET_FOR_UPDATE = f"SELECT {_COLUMNS} FROM services WHERE id = $1 FOR UPDATE"

ARCHIVE = f"UPDATE services SET is_active = false, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}"

EXISTING_IDS = "SELECT id FROM services WHERE id = ANY($1::text[])"

# The soonest expiry any region's probers saw, per service (TLS targets only).
CERTIFICATE_EXPIRIES = "SELECT service_id, min(not_after) AS not_after FROM service_certificates GROUP BY service_id"
