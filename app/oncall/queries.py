"""SQL of on-call schedules and their overrides (sql/250)."""

_SCHEDULE = (
    "id, name, time_zone, rotation, handoff_time, start_date, participants, feed_token, managed_by, "
    "created_at, updated_at"
)
_OVERRIDE = "id, schedule_id, username, starts_at, ends_at, note, managed_by, created_by"

LIST_SCHEDULES = f"SELECT {_SCHEDULE} FROM oncall_schedules ORDER BY id"
GET_SCHEDULE = f"SELECT {_SCHEDULE} FROM oncall_schedules WHERE id = $1"
SCHEDULES_NAMED = f"SELECT {_SCHEDULE} FROM oncall_schedules WHERE id = ANY($1::text[]) ORDER BY id"
INSERT_SCHEDULE = f"""
INSERT INTO oncall_schedules (id, name, time_zone, rotation, handoff_time, start_date, participants, feed_token)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING {_SCHEDULE}
"""
UPDATE_SCHEDULE = f"""
UPDATE oncall_schedules SET name = $2, time_zone = $3, rotation = $4, handoff_time = $5, start_date = $6,
       participants = $7, updated_at = now()
WHERE id = $1 RETURNING {_SCHEDULE}
"""
DELETE_SCHEDULE = "DELETE FROM oncall_schedules WHERE id = $1 RETURNING id"
# escalation.toml: upsert what it names (the feed token of an existing schedule is kept).
UPSERT_CONFIG_SCHEDULE = """
INSERT INTO oncall_schedules (id, name, time_zone, rotation, handoff_time, start_date, participants, feed_token,
                              managed_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'config')
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, rotation = EXCLUDED.rotation,
    handoff_time = EXCLUDED.handoff_time, start_date = EXCLUDED.start_date, participants = EXCLUDED.participants,
    managed_by = 'config', updated_at = now()
WHERE (oncall_schedules.name, oncall_schedules.time_zone, oncall_schedules.rotation, oncall_schedules.handoff_time,
       oncall_schedules.start_date, oncall_schedules.participants, oncall_schedules.managed_by)
      IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.time_zone, EXCLUDED.rotation, EXCLUDED.handoff_time,
                        EXCLUDED.start_date, EXCLUDED.participants, 'config')
RETURNING id
"""
DELETE_MISSING_CONFIG_SCHEDULES = (
    "DELETE FROM oncall_schedules WHERE managed_by = 'config' AND NOT id = ANY($1::text[]) RETURNING id"
)
DELETE_CONFIG_OVERRIDES = "DELETE FROM oncall_overrides WHERE schedule_id = $1 AND managed_by = 'config'"
INSERT_CONFIG_OVERRIDES = """
INSERT INTO oncall_overrides (schedule_id, username, starts_at, ends_at, note, managed_by, created_by)
SELECT $1, o.username, o.starts_at, o.ends_at, o.note, 'config', 'escalation.toml'
FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[]) AS o (username, starts_at, ends_at, note)
"""
ROTATE_FEED_TOKEN = f"UPDATE oncall_schedules SET feed_token = $2 WHERE id = $1 RETURNING {_SCHEDULE}"

# Overrides that can still matter at or after $2 (the rotation's past is not rewritten).
OVERRIDES_FROM = f"""
SELECT {_OVERRIDE} FROM oncall_overrides WHERE schedule_id = $1 AND ends_at > $2 ORDER BY starts_at, id
"""
OVERRIDES_BETWEEN = f"""
SELECT {_OVERRIDE} FROM oncall_overrides WHERE schedule_id = $1 AND ends_at > $2 AND starts_at < $3
ORDER BY starts_at, id
"""
INSERT_OVERRIDE = f"""
INSERT INTO oncall_overrides (schedule_id, username, starts_at, ends_at, note, created_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_OVERRIDE}
"""
DELETE_OVERRIDE = "DELETE FROM oncall_overrides WHERE schedule_id = $1 AND id = $2 RETURNING managed_by"

# The users a schedule or a level names, with their paging address.
USERS_NAMED = """
SELECT id, username, email, is_active FROM users WHERE lower(username) = ANY(
    SELECT lower(name) FROM unnest($1::text[]) AS name)
"""
