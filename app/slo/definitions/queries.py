"""SQL of the SLO definitions engine (app/slo/definitions/engine.py), built per definition: one
statement for the window's figures and burn windows of all the definition's services, one for their
5-minute measurements. A definition's filters become SQL predicates with their strings as
parameters (never spliced); numbers come from the validated definition and are written as integers.

Slots are the rollups' CHECK_SLOTS (majority of regions, ties fail), calls are api_calls rows; both
leave out what lies in a maintenance window of their service (`sla_maintenance_windows`, which
applies the notice rule), exactly as the tier SLOs (app/slo/queries.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.rollups.queries import CHECK_SLOTS
from app.slo.definitions.model import Filter, Sli, status_range


def outside_maintenance(ts: str, service_id: str) -> str:
    """As app/slo/queries.py `_outside_maintenance` (copied: that module is the tier engine's)."""
    return f"""NOT EXISTS (SELECT 1 FROM sla_maintenance_windows w
                   WHERE {service_id} = ANY(w.affected_services) AND {ts} >= w.starts_at AND {ts} < w.ends_at)"""


@dataclass
class Params:
    """Positional parameters of a statement being built."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _filter(keep: Filter, source: str, params: Params) -> str:
    """The predicate of a filter on alias c (calls) or s (slots); 'true' when it keeps everything."""
    terms: list[str] = []
    if source == "calls":
        if keep.endpoints:
            terms.append(f"c.endpoint = ANY({params.add(list(keep.endpoints))}::text[])")
        if keep.methods:
            terms.append(f"c.method = ANY({params.add(list(keep.methods))}::text[])")
        if keep.statuses:
            ranges = [status_range(s) for s in keep.statuses]
            terms.append("(" + " OR ".join(f"c.status_code BETWEEN {lo:d} AND {hi:d}" for lo, hi in ranges) + ")")
        if keep.latency_below_ms is not None:
            terms.append(f"c.latency_ms < {int(keep.latency_below_ms):d}")
        if keep.latency_at_least_ms is not None:
            terms.append(f"c.latency_ms >= {int(keep.latency_at_least_ms):d}")
    else:
        if keep.ok is not None:
            terms.append("s.ok" if keep.ok else "NOT s.ok")
        if keep.latency_below_ms is not None:  # a failed slot has no latency: not below anything
            terms.append(f"coalesce(s.latency_ms < {int(keep.latency_below_ms):d}, false)")
    return " AND ".join(terms) if terms else "true"


@dataclass(frozen=True)
class Predicates:
    events: str
    good: str  # implies events
    alias: str  # c (calls) | s (slots)
    latency: str


def predicates(sli: Sli, params: Params) -> Predicates:
    events = _filter(sli.events, sli.source, params)
    if sli.good is not None:
        good = f"({events}) AND ({_filter(sli.good, sli.source, params)})"
    else:
        assert sli.bad is not None  # Sli.check: exactly one of good and bad
        good = f"({events}) AND NOT ({_filter(sli.bad, sli.source, params)})"
    alias = "c" if sli.source == "calls" else "s"
    return Predicates(f"({events})", good, alias, f"{alias}.latency_ms")


def _rows(sli: Sli, ids: str, where: str) -> str:
    """The events' table (alias c or s) for the services `ids` with `where` on the raw rows (alias c),
    maintenance left out."""
    if sli.source == "calls":
        return f"""(SELECT c.* FROM api_calls c
          WHERE c.service_id = ANY({ids}::text[]) AND {where} AND {outside_maintenance("c.ts", "c.service_id")}) c"""
    slots = CHECK_SLOTS.format(where=f"c.service_id = ANY({ids}::text[]) AND {where}")
    return f"""(SELECT s.* FROM ({slots}) s WHERE {outside_maintenance("s.ts", "s.service_id")}) s"""


def _nearest_rank(p: Predicates, condition: str, quantile: str) -> str:
    """The nearest-rank percentile (the ceil(q n)-th smallest latency) of the rows meeting `condition`,
    in exact numeric arithmetic (percentile_disc computes the rank in floating point)."""
    kept = f"{condition} AND {p.latency} IS NOT NULL"
    return f"""(array_agg({p.latency} ORDER BY {p.latency}) FILTER (WHERE {kept}))[
           ceil({quantile}::numeric * count(*) FILTER (WHERE {kept}))::int]"""


def figures(sli: Sli, ids: list[str], start: datetime, end: datetime, seconds: list[int]) -> tuple[str, list[Any]]:
    """Per service of `ids`: events and good events in the SLO window [start, end), the nearest-rank
    percentile there (when the SLI has one), the events and good events in each window of `seconds`
    ending at `end` (columns events_k, good_k for k = 1, 2, ...), and the service's check interval."""
    params = Params()
    ids_p, start_p, end_p, seconds_p = (params.add(v) for v in (ids, start, end, seconds))
    p = predicates(sli, params)
    a = p.alias
    in_window = f"{a}.ts >= {start_p}"
    columns = [
        f"count({a}.ts) FILTER (WHERE {in_window} AND {p.events})::bigint AS events",
        f"count({a}.ts) FILTER (WHERE {in_window} AND {p.good})::bigint AS good",
    ]
    if sli.percentile is not None:
        quantile = params.add(sli.percentile / 100)
        columns.append(f"{_nearest_rank(p, f'{in_window} AND {p.events}', quantile)} AS percentile")
    for k in range(1, len(seconds) + 1):
        recent = f"{a}.ts >= {end_p}::timestamptz - make_interval(secs => ({seconds_p}::int[])[{k}])"
        columns.append(f"count({a}.ts) FILTER (WHERE {recent} AND {p.events})::bigint AS events_{k}")
        columns.append(f"count({a}.ts) FILTER (WHERE {recent} AND {p.good})::bigint AS good_{k}")
    widest = (
        f"least({start_p}::timestamptz, {end_p}::timestamptz"
        f" - make_interval(secs => (SELECT max(x) FROM unnest({seconds_p}::int[]) x)))"
    )
    rows = _rows(sli, ids_p, f"c.ts >= {widest} AND c.ts < {end_p}")
    sql = f"""
SELECT v.id AS service_id, v.interval_s, {", ".join(columns)}
FROM services v
LEFT JOIN {rows} ON {a}.service_id = v.id
WHERE v.id = ANY({ids_p}::text[])
GROUP BY v.id, v.interval_s
"""
    return sql, params.values


def buckets(sli: Sli, ids: list[str], start: datetime, end: datetime) -> tuple[str, list[Any]]:
    """5-minute measurements of services `ids` in [start, end): events, good events and (when the
    SLI has one) the nearest-rank percentile of each bucket holding rows."""
    params = Params()
    ids_p, start_p, end_p = (params.add(v) for v in (ids, start, end))
    p = predicates(sli, params)
    a = p.alias
    percentile = "NULL::int"
    if sli.percentile is not None:
        percentile = _nearest_rank(p, p.events, params.add(sli.percentile / 100))
    sql = f"""
SELECT {a}.service_id, time_bucket('5 minutes'::interval, {a}.ts) AS bucket,
       count(*) FILTER (WHERE {p.events})::bigint AS events,
       count(*) FILTER (WHERE {p.good})::bigint AS good,
       {percentile} AS percentile
FROM {_rows(sli, ids_p, f"c.ts >= {start_p} AND c.ts < {end_p}")}
GROUP BY 1, 2 ORDER BY 1, 2
"""
    return sql, params.values


SERVICES = "SELECT * FROM services WHERE id = ANY($1::text[])"

# --- violations -----------------------------------------------------------------------------

COLUMNS = "id, definition, service_id, alert, severity, started_at, ended_at, threshold, worst_value, details"

# The evaluation's lock of each (definition $1, service of $2), always taken in the same order.
LOCK = """
SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || s.id, 5308420))
FROM (SELECT id FROM unnest($2::text[]) id ORDER BY id) s
"""

OPEN_OF_DEFINITION = f"SELECT {COLUMNS} FROM slo_definition_violations WHERE definition = $1 AND ended_at IS NULL"

OPEN = f"""
INSERT INTO slo_definition_violations (definition, service_id, alert, severity, started_at, threshold, worst_value,
                                       details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
ON CONFLICT (definition, service_id, alert) WHERE ended_at IS NULL DO NOTHING
RETURNING {COLUMNS}
"""

UPDATE_OPEN = f"""
UPDATE slo_definition_violations SET worst_value = $4, details = $5::jsonb
WHERE definition = $1 AND service_id = $2 AND alert = $3 AND ended_at IS NULL
RETURNING {COLUMNS}
"""

CLOSE = f"""
UPDATE slo_definition_violations SET ended_at = greatest($4, started_at)
WHERE definition = $1 AND service_id = $2 AND alert = $3 AND ended_at IS NULL
RETURNING {COLUMNS}
"""

# A deleted definition is evaluated no more: its open violations end when it was deleted.
CLOSE_DELETED = f"""
UPDATE slo_definition_violations v SET ended_at = greatest(d.deleted_at, v.started_at)
FROM slo_definitions d
WHERE d.name = v.definition AND d.deleted_at IS NOT NULL AND v.ended_at IS NULL
RETURNING {", ".join(f"v.{c.strip()}" for c in COLUMNS.split(","))}
"""

# Filters (NULL matches all): $1 definition, $2 service, $3 open (true) / closed (false).
_WHERE = """
WHERE definition = $1 AND ($2::text IS NULL OR service_id = $2) AND ($3::boolean IS NULL OR (ended_at IS NULL) = $3)
"""
LIST = f"SELECT {COLUMNS} FROM slo_definition_violations {_WHERE} ORDER BY started_at DESC, id DESC LIMIT $4 OFFSET $5"
COUNT = f"SELECT count(*) FROM slo_definition_violations {_WHERE}"

# The tier engine's open violations of services $1 and SLO keys $2 (a tier definition's violations).
TIER_OPEN = """
SELECT id, service_id, slo, severity, started_at, ended_at, threshold, worst_value, details
FROM slo_violations WHERE service_id = ANY($1::text[]) AND slo = ANY($2::text[]) AND ended_at IS NULL
"""
TIER_WHERE = """
WHERE slo = ANY($1::text[]) AND service_id = ANY($2::text[]) AND ($3::text IS NULL OR service_id = $3)
  AND ($4::boolean IS NULL OR (ended_at IS NULL) = $4)
"""
TIER_LIST = f"""
SELECT id, service_id, slo, severity, started_at, ended_at, threshold, worst_value, details FROM slo_violations
{TIER_WHERE} ORDER BY started_at DESC, id DESC LIMIT $5 OFFSET $6
"""
TIER_COUNT = f"SELECT count(*) FROM slo_violations {TIER_WHERE}"

# --- definitions --------------------------------------------------------------------------------

LIST_DEFINITIONS = """
SELECT name, body, source, created_at, updated_at, updated_by FROM slo_definitions
WHERE deleted_at IS NULL ORDER BY name
"""
GET_DEFINITION = """
SELECT name, body, source, created_at, updated_at, updated_by FROM slo_definitions
WHERE name = $1 AND deleted_at IS NULL
"""
EVERY_NAME = "SELECT name FROM slo_definitions"  # deleted ones too
# Whether a live definition of the name exists, locking its row for the write that follows.
LIVE_FOR_UPDATE = "SELECT deleted_at IS NULL FROM slo_definitions WHERE name = $1 FOR UPDATE"
# Insert, replace, or take over a deleted row of the same name (created again then).
PUT_DEFINITION = """
INSERT INTO slo_definitions AS d (name, body, source, updated_by) VALUES ($1, $2::jsonb, $3, $4)
ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, source = EXCLUDED.source, updated_by = EXCLUDED.updated_by,
    updated_at = now(), deleted_at = NULL,
    created_at = CASE WHEN d.deleted_at IS NULL THEN d.created_at ELSE now() END
"""
DELETE_DEFINITION = """
UPDATE slo_definitions SET deleted_at = now(), updated_at = now(), updated_by = $2
WHERE name = $1 AND deleted_at IS NULL RETURNING name
"""
