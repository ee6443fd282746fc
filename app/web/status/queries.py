"""SQL of the status page (the rest comes from the domain services)."""

# Titles of the incidents the grid's tooltips name. $1 incident ids.
INCIDENT_TITLES = "SELECT id, title, priority FROM incidents WHERE id = ANY($1::text[])"

# Titles of the incidents that overlap ($1, $2]: those of a 90-day grid, read before the grid says which.
INCIDENT_TITLES_SINCE = """
SELECT id, title, priority FROM incidents WHERE created_at <= $2 AND coalesce(resolved_at, 'infinity') > $1
"""
