"""SQL of SLOs, error budgets, burn rates and violations. Slots are the rollups' (majority of regions,
ties fail); slots and calls inside a maintenance window of their service are left out of everything."""

from app.rollups.queries import CHECK_SLOTS


def _outside_maintenance(ts: str, service_id: str) -> str:
    return f"""NOT EXISTS (SELECT 1 FROM sla_maintenance_windows w
                   WHERE {service_id} = ANY(w.affected_services) AND {ts} >= w.starts_at AND {ts} < w.ends_at)"""


def _call_counts(p50: str, p95: str, p99: str) -> str:
    """Counts of bad calls per SLO, given the P50, P95, P99 latency targets (ms)."""
    return f"""count(c.ts)::int AS calls,
       count(c.ts) FILTER (WHERE c.status_code NOT BETWEEN 200 AND 399)::int AS error_rate,
       count(c.ts) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS error_rate_5xx,
       count(c.ts) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS error_rate_4xx,
       count(c.ts) FILTER (WHERE c.latency_ms >= {p50})::int AS latency_p50,
       count(c.ts) FILTER (WHERE c.latency_ms >= {p95})::int AS latency_p95,
       count(c.ts) FILTER (WHERE c.latency_ms >= {p99})::int AS latency_p99"""


_PERCENTILES = """percentile_disc(0.50) WITHIN GROUP (ORDER BY c.latency_ms) AS p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY c.latency_ms) AS p95,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY c.latency_ms) AS p99"""

# --- violations -----------------------------------------------------------------------------

_VIOLATION_COLUMNS = "id, service_id, slo, severity, started_at, ended_at, threshold, worst_value, details"

OPEN = f"""
INSERT INTO slo_violations (service_id, slo, severity, started_at, threshold, worst_value, details)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (service_id, slo) WHERE ended_at IS NULL DO NOTHING
RETURNING {_VIOLATION_COLUMNS}
"""

UPDATE_OPEN = f"""
UPDATE slo_violations SET severity = $3, threshold = $4, worst_value = $5, details = $6::jsonb
WHERE service_id = $1 AND slo = $2 AND ended_at IS NULL
RETURNING {_VIOLATION_COLUMNS}
"""

CLOSE = f"""
UPDATE slo_violations SET ended_at = greatest($3, started_at)
WHERE service_id = $1 AND slo = $2 AND ended_at IS NULL
RETURNING {_VIOLATION_COLUMNS}
"""

# A service taken out of the catalog is no longer evaluated: its open violations end when it left.
CLOSE_INACTIVE = """
UPDATE slo_violations v SET ended_at = greatest(s.updated_at, v.started_at)
FROM services s
WHERE s.id = v.service_id AND NOT s.is_active AND v.ended_at IS NULL
RETURNING v.id, v.service_id, v.slo, v.severity, v.started_at, v.ended_at, v.threshold, v.worst_value, v.details
"""

# Filters (NULL matches all): $1 service, $2 open (true) / closed (false), $3 from, $4 to (overlapping
# [from, to)), $5 slo, $6 severity.
_WHERE = """
WHERE ($1::text IS NULL OR service_id = $1)
  AND ($2::boolean IS NULL OR (ended_at IS NULL) = $2)
  AND ($3::timestamptz IS NULL OR coalesce(ended_at, 'infinity') > $3)
  AND ($4::timestamptz IS NULL OR started_at < $4)
  AND ($5::text IS NULL OR slo = $5)
  AND ($6::text IS NULL OR severity = $6)
"""
LIST = f"""
SELECT {_VIOLATION_COLUMNS} FROM slo_violations {_WHERE}
ORDER BY started_at DESC, id DESC LIMIT $7 OFFSET $8
"""
COUNT = f"SELECT count(*) FROM slo_violations {_WHERE}"

# --- incremental evaluation (app/slo/sweep.py) -----------------------------------------------


# --- the sweep's inputs (workers/slo.py), for many services in one statement ------------------------
# $1 the services' ids; $4, $5, $6 their P50, P95, P99 latency targets (ms), arrays in the same order.

_TARGETS = "unnest($1::text[], $4::int[], $5::int[], $6::int[]) AS t(service_id, p50, p95, p99)"

# The month's call figures of services $1 in [$2, $3).
CALL_FIGURES = f"""
SELECT t.service_id, {_call_counts("t.p50", "t.p95", "t.p99")},
       {_PERCENTILES}
FROM {_TARGETS}
LEFT JOIN api_calls c ON c.service_id = t.service_id AND c.ts >= $2 AND c.ts < $3
     AND {_outside_maintenance("c.ts", "c.service_id")}
GROUP BY t.service_id
"""

# Burn-rate windows [$2 - w, $2) for each w of $3 (seconds) of services $1. The windows are nested, so
# each row is counted once, in the narrowest window holding it, and a window's figures are the sums
# of its own and the narrower ones' (no row joined to every window that holds it).
_NARROWEST = "(SELECT min(x) FROM unnest($3::int[]) x WHERE {ts} >= $2::timestamptz - make_interval(secs => x))"
_WIDEST = "$2::timestamptz - make_interval(secs => (SELECT max(x) FROM unnest($3::int[]) x))"

SLOT_WINDOWS = f"""
WITH narrowest AS (
    SELECT s.service_id, {_NARROWEST.format(ts="s.ts")} AS seconds,
           count(*) AS slots, count(*) FILTER (WHERE NOT s.ok) AS availability
    FROM ({CHECK_SLOTS.format(where=f"c.service_id = ANY($1::text[]) AND c.ts < $2 AND c.ts >= {_WIDEST}")}) s
    WHERE {_outside_maintenance("s.ts", "s.service_id")}
    GROUP BY 1, 2
)
SELECT i.service_id, w.seconds, coalesce(sum(n.slots), 0)::int AS slots,
       coalesce(sum(n.availability), 0)::int AS availability
FROM unnest($1::text[]) AS i(service_id) CROSS JOIN unnest($3::int[]) AS w(seconds)
LEFT JOIN narrowest n ON n.service_id = i.service_id AND n.seconds <= w.seconds
GROUP BY 1, 2
"""

_CALL_SUMS = ", ".join(
    f"coalesce(sum(n.{c}), 0)::int AS {c}"
    for c in ("calls", "error_rate", "error_rate_5xx", "error_rate_4xx", "latency_p50", "latency_p95", "latency_p99")
)

CALL_WINDOWS = f"""
WITH narrowest AS (
    SELECT c.service_id, {_NARROWEST.format(ts="c.ts")} AS seconds,
           {_call_counts("t.p50", "t.p95", "t.p99")}
    FROM api_calls c JOIN {_TARGETS} USING (service_id)
    WHERE c.service_id = ANY($1::text[]) AND c.ts < $2 AND c.ts >= {_WIDEST}
      AND {_outside_maintenance("c.ts", "c.service_id")}
    GROUP BY 1, 2
)
SELECT i.service_id, w.seconds, {_CALL_SUMS}
FROM unnest($1::text[]) AS i(service_id) CROSS JOIN unnest($3::int[]) AS w(seconds)
LEFT JOIN narrowest n ON n.service_id = i.service_id AND n.seconds <= w.seconds
GROUP BY 1, 2
"""

# 5-minute measurements of services $1 in [$2, $3) for the violation rules.
SLOT_BUCKETS = f"""
SELECT s.service_id, time_bucket('5 minutes'::interval, s.ts) AS bucket, count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots
FROM ({CHECK_SLOTS.format(where="c.service_id = ANY($1::text[]) AND c.ts >= $2 AND c.ts < $3")}) s
WHERE {_outside_maintenance("s.ts", "s.service_id")}
GROUP BY 1, 2 ORDER BY 1, 2
"""

CALL_BUCKETS = f"""
SELECT c.service_id, time_bucket('5 minutes'::interval, c.ts) AS bucket, count(*)::int AS calls,
       count(*) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS c4xx,
       count(*) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS c5xx,
       {_PERCENTILES}
FROM api_calls c
WHERE c.service_id = ANY($1::text[]) AND c.ts >= $2 AND c.ts < $3 AND {_outside_maintenance("c.ts", "c.service_id")}
GROUP BY 1, 2 ORDER BY 1, 2
"""

# The evaluation's per-service lock for every service of $1, always taken in the same order.
LOCK_SERVICES = """
SELECT pg_advisory_xact_lock(5308419, hashtext(s.id)) FROM (SELECT id FROM unnest($1::text[]) id ORDER BY id) s
"""

OPEN_OF_SERVICES = f"""
SELECT {_VIOLATION_COLUMNS} FROM slo_violations WHERE service_id = ANY($1::text[]) AND ended_at IS NULL
"""

# Of every service of $1: its first row (slot or call) from $2 (per service: the end of the measurements
# it was last evaluated with) and from $3 (the end of the complete measurements now); whether a check
# failed from $4 (now - the burn alerts' longest short window) on; whether a burn-rate alert is open.
OUTLOOK = """
SELECT i.service_id,
       least((SELECT min(ts) FROM checks WHERE service_id = i.service_id AND ts >= i.since),
             (SELECT min(ts) FROM api_calls WHERE service_id = i.service_id AND ts >= i.since)) AS first_since,
       least((SELECT min(ts) FROM checks WHERE service_id = i.service_id AND ts >= $3),
             (SELECT min(ts) FROM api_calls WHERE service_id = i.service_id AND ts >= $3)) AS first_open,
       EXISTS (SELECT 1 FROM checks WHERE service_id = i.service_id AND ts >= $4 AND NOT ok) AS failed_recently,
       EXISTS (SELECT 1 FROM slo_violations
               WHERE service_id = i.service_id AND ended_at IS NULL
                 AND slo IN ('burn_rate_fast', 'burn_rate_slow')) AS burn_open
FROM unnest($1::text[], $2::timestamptz[]) AS i(service_id, since)
"""
