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

_CALL_COLUMNS = ("calls", "error_rate", "error_rate_5xx", "error_rate_4xx", "latency_p50", "latency_p95", "latency_p99")
_CALL_SUMS = ", ".join(f"coalesce(sum(n.{c}), 0)::int AS {c}" for c in _CALL_COLUMNS)

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

# --- kept figures (app/slo/tally.py, sql/320) ----------------------------------------------------
# Only the SLO job writes them, under this lock (a run repeated or two workers at once count nothing
# twice).
TALLY_LOCK = "SELECT pg_advisory_xact_lock(5308420, 0)"

TALLY_STATES = "SELECT * FROM slo_tally WHERE service_id = ANY($1::text[])"

# The kept buckets of services $1 from $2 (per service) on, and those before $3 (out of the look-back).
TALLY_DROP_BUCKETS = """
DELETE FROM slo_tally_buckets b
USING unnest($1::text[], $2::timestamptz[]) AS r(service_id, since)
WHERE b.service_id = r.service_id AND (b.bucket >= r.since OR b.bucket < $3)
"""

# Complete 5-minute buckets of services $1 from $2 (per service, aligned) to $3 (aligned), from raw
# rows; $4, $5, $6 the P50, P95, P99 latency targets (ms), arrays in the order of $1.
_SINCE = "c.service_id = r.service_id AND c.ts >= r.since AND c.ts < $3"
TALLY_PUT_BUCKETS = f"""
WITH r AS (
    SELECT * FROM unnest($1::text[], $2::timestamptz[], $4::int[], $5::int[], $6::int[])
        AS r(service_id, since, p50, p95, p99)
    WHERE since < $3
), slots AS (
    SELECT s.service_id, time_bucket('5 minutes'::interval, s.ts) AS bucket, count(*)::int AS slots,
           count(*) FILTER (WHERE NOT s.ok)::int AS bad_slots
    FROM r CROSS JOIN LATERAL ({CHECK_SLOTS.format(where=_SINCE)}) s
    WHERE {_outside_maintenance("s.ts", "s.service_id")}
    GROUP BY 1, 2
), calls AS (
    SELECT c.service_id, time_bucket('5 minutes'::interval, c.ts) AS bucket, {_call_counts("r.p50", "r.p95", "r.p99")},
           {_PERCENTILES}
    FROM r JOIN api_calls c ON c.service_id = r.service_id AND c.ts >= r.since AND c.ts < $3
    WHERE {_outside_maintenance("c.ts", "c.service_id")}
    GROUP BY 1, 2
)
INSERT INTO slo_tally_buckets (service_id, bucket, slots, bad_slots, calls, errors, c5xx, c4xx,
                               ge_p50, ge_p95, ge_p99, p50, p95, p99)
SELECT service_id, bucket, coalesce(s.slots, 0), coalesce(s.bad_slots, 0), coalesce(c.calls, 0),
       coalesce(c.error_rate, 0), coalesce(c.error_rate_5xx, 0), coalesce(c.error_rate_4xx, 0),
       coalesce(c.latency_p50, 0), coalesce(c.latency_p95, 0), coalesce(c.latency_p99, 0), c.p50, c.p95, c.p99
FROM slots s FULL JOIN calls c USING (service_id, bucket)
"""

# The kept buckets of services $1 from $2 (per service) to $3, for the violation rules' measurements.
TALLY_BUCKETS = """
SELECT b.service_id, b.bucket, b.slots, b.slots - b.bad_slots AS ok_slots, b.calls, b.c4xx, b.c5xx, b.p50, b.p95, b.p99
FROM unnest($1::text[], $2::timestamptz[]) AS i(service_id, since)
JOIN slo_tally_buckets b ON b.service_id = i.service_id AND b.bucket >= i.since AND b.bucket < $3
ORDER BY b.service_id, b.bucket
"""

# The violation rules' folds of services $1 (sql/350).
TALLY_RUNS = "SELECT service_id, judged_to, runs FROM slo_tally_runs WHERE service_id = ANY($1::text[])"

TALLY_PUT_RUNS = """
INSERT INTO slo_tally_runs (service_id, judged_to, runs)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[])
ON CONFLICT (service_id) DO UPDATE SET judged_to = EXCLUDED.judged_to, runs = EXCLUDED.runs
"""

# The folds of services $1 that took in kept buckets from $2 (per service) on: being recomputed now.
TALLY_DROP_RUNS = """
DELETE FROM slo_tally_runs r USING unnest($1::text[], $2::timestamptz[]) AS i(service_id, since)
WHERE r.service_id = i.service_id AND r.judged_to > i.since
"""

# Burn windows [$2 - w, $2) of services $1 (latency targets $4, $5, $6) from the kept buckets
# [mid, $7) of each window ($3 seconds, $8 starts `lo`, $9 `mid`: the first bucket start at or
# after lo; $7 the end of the complete buckets) and raw rows in [lo, mid) and [$7, $2).
_TALLY_RANGES = """
SELECT * FROM unnest($3::int[], $8::timestamptz[], $9::timestamptz[]) AS g(seconds, lo, hi) WHERE lo < hi
UNION ALL SELECT NULL, $7::timestamptz, $2::timestamptz
"""
_KEPT_SUMS = ", ".join(
    f"sum(b.{c}) AS {c}"
    for c in ("slots", "bad_slots", "calls", "errors", "c5xx", "c4xx", "ge_p50", "ge_p95", "ge_p99")
)
# Each kept bucket is summed once, into the narrowest window holding it (the windows' `mid` decrease as
# they widen), and each raw range once: a window's figures are the sums of its own and the narrower
# ones' (kept), and of its own edge and the open bucket (raw).
TALLY_WINDOWS = f"""
WITH t AS (
    SELECT * FROM unnest($1::text[], $4::int[], $5::int[], $6::int[]) AS t(service_id, p50, p95, p99)
), w AS (
    SELECT * FROM unnest($3::int[], $8::timestamptz[], $9::timestamptz[]) AS w(seconds, lo, mid)
), g AS ({_TALLY_RANGES}
), narrowest AS (
    SELECT b.service_id, (SELECT min(w.seconds) FROM w WHERE b.bucket >= w.mid) AS seconds, {_KEPT_SUMS}
    FROM slo_tally_buckets b
    WHERE b.service_id = ANY($1::text[]) AND b.bucket >= (SELECT min(mid) FROM w) AND b.bucket < $7
    GROUP BY 1, 2
), kept AS (
    SELECT n.service_id, w.seconds, sum(n.slots) AS slots, sum(n.bad_slots) AS availability,
           sum(n.calls) AS calls, sum(n.errors) AS error_rate, sum(n.c5xx) AS error_rate_5xx,
           sum(n.c4xx) AS error_rate_4xx, sum(n.ge_p50) AS latency_p50, sum(n.ge_p95) AS latency_p95,
           sum(n.ge_p99) AS latency_p99
    FROM narrowest n JOIN w ON n.seconds <= w.seconds
    GROUP BY 1, 2
), raw_slots_g AS (
    SELECT s.service_id, g.seconds, count(*) AS slots, count(*) FILTER (WHERE NOT s.ok) AS availability
    FROM t CROSS JOIN g
    CROSS JOIN LATERAL ({CHECK_SLOTS.format(where="c.service_id = t.service_id AND c.ts >= g.lo AND c.ts < g.hi")}) s
    WHERE {_outside_maintenance("s.ts", "s.service_id")}
    GROUP BY 1, 2
), raw_slots AS (
    SELECT s.service_id, w.seconds, sum(s.slots) AS slots, sum(s.availability) AS availability
    FROM raw_slots_g s JOIN w ON s.seconds IS NULL OR s.seconds = w.seconds
    GROUP BY 1, 2
), raw_calls_g AS (
    SELECT c.service_id, g.seconds, {_call_counts("t.p50", "t.p95", "t.p99")}
    FROM t CROSS JOIN g
    JOIN api_calls c ON c.service_id = t.service_id AND c.ts >= g.lo AND c.ts < g.hi
    WHERE {_outside_maintenance("c.ts", "c.service_id")}
    GROUP BY 1, 2
), raw_calls AS (
    SELECT c.service_id, w.seconds, {", ".join(f"sum(c.{c}) AS {c}" for c in _CALL_COLUMNS)}
    FROM raw_calls_g c JOIN w ON c.seconds IS NULL OR c.seconds = w.seconds
    GROUP BY 1, 2
)
SELECT t.service_id, w.seconds,
       (coalesce(k.slots, 0) + coalesce(s.slots, 0))::int AS slots,
       (coalesce(k.availability, 0) + coalesce(s.availability, 0))::int AS availability,
       {", ".join(f"(coalesce(k.{c}, 0) + coalesce(r.{c}, 0))::int AS {c}" for c in _CALL_COLUMNS)}
FROM t CROSS JOIN w
LEFT JOIN kept k ON k.service_id = t.service_id AND k.seconds = w.seconds
LEFT JOIN raw_slots s ON s.service_id = t.service_id AND s.seconds = w.seconds
LEFT JOIN raw_calls r ON r.service_id = t.service_id AND r.seconds = w.seconds
"""

# Calls of services $1 from $2 (per service) to $4, by latency, split at $3 (per service: what the
# month's kept figures take in now, `settled`, and the tail read raw at every run).
TALLY_CALLS = f"""
SELECT c.service_id, c.ts < i.settle AS settled, c.latency_ms, count(*)::int AS n,
       count(*) FILTER (WHERE c.status_code NOT BETWEEN 200 AND 399)::int AS errors,
       count(*) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS c5xx,
       count(*) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS c4xx
FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS i(service_id, since, settle)
JOIN api_calls c ON c.service_id = i.service_id AND c.ts >= i.since AND c.ts < $4
WHERE {_outside_maintenance("c.ts", "c.service_id")}
GROUP BY 1, 2, 3
"""

# Of each ($1 service, $2 percentile, $3 value, $4 limit): the kept latencies from the value up and
# below it, nearest first, at most $4 of each.
TALLY_NEIGHBOURS = """
SELECT q.service_id, q.which, h.latency_ms, h.n, h.up
FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) AS q(service_id, which, v, lim)
CROSS JOIN LATERAL (
    (SELECT l.latency_ms, l.n, true AS up FROM slo_tally_latencies l
     WHERE l.service_id = q.service_id AND l.latency_ms >= q.v ORDER BY l.latency_ms LIMIT q.lim)
    UNION ALL
    (SELECT l.latency_ms, l.n, false FROM slo_tally_latencies l
     WHERE l.service_id = q.service_id AND l.latency_ms < q.v ORDER BY l.latency_ms DESC LIMIT q.lim)
) h
"""

TALLY_LATENCIES = """
SELECT service_id, latency_ms, n FROM slo_tally_latencies WHERE service_id = ANY($1::text[])
"""

TALLY_DROP_LATENCIES = "DELETE FROM slo_tally_latencies WHERE service_id = ANY($1::text[])"

TALLY_ADD_LATENCIES = """
INSERT INTO slo_tally_latencies AS l (service_id, latency_ms, n)
SELECT * FROM unnest($1::text[], $2::int[], $3::int[])
ON CONFLICT (service_id, latency_ms) DO UPDATE SET n = l.n + EXCLUDED.n
"""

_TALLY_COLUMNS = (
    "service_id, buckets_to, period_start, calls_to, calls, errors, c5xx, c4xx, ge_p50, ge_p95, ge_p99, "
    "p50, below_p50, p95, below_p95, p99, below_p99"
)
_TALLY_TYPES = (
    "text[], timestamptz[], timestamptz[], timestamptz[], int[], int[], int[], int[], int[], int[], int[], "
    "int[], int[], int[], int[], int[], int[]"
)
TALLY_PUT = f"""
INSERT INTO slo_tally ({_TALLY_COLUMNS})
SELECT * FROM unnest({", ".join(f"${i + 1}::{t}" for i, t in enumerate(_TALLY_TYPES.split(", ")))})
ON CONFLICT (service_id) DO UPDATE SET
{", ".join(f"{c} = EXCLUDED.{c}" for c in _TALLY_COLUMNS.split(", ")[1:])}
"""
