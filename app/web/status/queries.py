"""SQL of the status page (the rest comes from the domain services)."""

# Titles of the incidents the grid's tooltips name. $1 incident ids.
INCIDENT_TITLES = "SELECT id, title, priority FROM incidents WHERE id = ANY($1::text[])"
