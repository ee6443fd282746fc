"""The rollup SELECTs, one per rollup, and the statements that maintain and read them.

Each rollup is one aggregate over raw rows (`*_BUCKETS`), written once with a `{where}` slot for
the raw-row filter. The Apache-edition refresh keeps the hierarchy of docs/architecture.md
("Rollups"): raw rows -> a first level (slots of checks, minutes of API calls) -> the hourly and daily
rollups, each level materialised from the one below (`*_OF_SLOTS`, `USAGE_OF_MINUTES`: the same
figures, from fewer and simpler rows). Readers union materialised buckets with the aggregate over
raw rows that are past the watermark or still pending in the invalidation log, then merge the parts
bucket by bucket. Only fixed SQL
fragments are composed here, at import time; values are `$n` parameters. Every statement is a named
constant: nothing is written into statement text at call time.

Parameters shared by every statement built from a template:
  $1 service ids (text[], NULL = all)   $2 from (timestamptz)   $3 to (timestamptz, exclusive)
  $4 bucket width (interval)            $5 time zone the buckets are cut in (text)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

LATENCY_BOUNDS_MS = (50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 7000, 10000, 15000, 30000)
HISTOGRAM_COLUMNS = tuple(f"lat_lt_{b}" for b in LATENCY_BOUNDS_MS)

# A slot is (service_id, ts) over all regions: ok when a strict majority of its regions succeeded
# (ties fail); its latency is the lower median of the ok regions' latencies.
CHECK_SLOTS = """
SELECT c.service_id, c.ts,
       count(*) FILTER (WHERE c.ok) * 2 > count(*) AS ok,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY c.latency_ms) FILTER (WHERE c.ok) AS latency_ms
FROM checks c
WHERE {where}
GROUP BY c.service_id, c.ts
"""

# The first level of checks as stored (sql/200): CHECK_SLOTS' rows, decided once.
STORED_SLOTS = """
SELECT c.service_id, c.ts, c.ok, c.latency_ms
FROM rollup_check_slots c
WHERE {where}
"""

_CHECK_HIST = ",\n".join(
    f"       count(*) FILTER (WHERE s.ok AND s.latency_ms < {b})::int AS lat_lt_{b}" for b in LATENCY_BOUNDS_MS
)


def _checks_buckets(slots: str) -> str:
    """The check rollup's SELECT over slots (`slots`: a query with a `{where}` slot on alias c)."""
    return f"""
SELECT s.service_id, time_bucket($4::interval, s.ts, $5::text) AS bucket,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots,
       (count(*) FILTER (WHERE NOT s.ok) * min(v.interval_s))::bigint AS downtime_s,
       count(*) FILTER (WHERE s.ok AND s.latency_ms > v.latency_target_ms)::int AS over_target,
       count(s.latency_ms) FILTER (WHERE s.ok)::int AS latency_count,
       sum(s.latency_ms) FILTER (WHERE s.ok)::bigint AS latency_sum_ms,
       min(s.latency_ms) FILTER (WHERE s.ok) AS latency_min_ms,
       max(s.latency_ms) FILTER (WHERE s.ok) AS latency_max_ms,
{_CHECK_HIST}
FROM ({slots}) s
JOIN services v ON v.id = s.service_id
GROUP BY s.service_id, bucket
"""


CHECKS_BUCKETS = _checks_buckets(CHECK_SLOTS)  # from raw rows: readers' live part, the reference
CHECKS_OF_SLOTS = _checks_buckets(STORED_SLOTS)  # from the first level: the refresh

_USAGE_HIST = ",\n".join(
    f"       count(*) FILTER (WHERE c.latency_ms < {b})::int AS lat_lt_{b}" for b in LATENCY_BOUNDS_MS
)
USAGE_BUCKETS = f"""
SELECT c.service_id, time_bucket($4::interval, c.ts, $5::text) AS bucket,
       count(*)::int AS calls,
       count(*) FILTER (WHERE c.status_code = 200)::int AS ok_200,
       count(*) FILTER (WHERE c.status_code <> 200)::int AS errors,
       count(*) FILTER (WHERE c.status_code BETWEEN 400 AND 499)::int AS c4xx,
       count(*) FILTER (WHERE c.status_code BETWEEN 500 AND 599)::int AS c5xx,
       count(*) FILTER (WHERE c.latency_ms > v.latency_target_ms)::int AS over_target,
       sum(c.latency_ms)::bigint AS latency_sum_ms,
       min(c.latency_ms) AS latency_min_ms,
       max(c.latency_ms) AS latency_max_ms,
{_USAGE_HIST}
FROM api_calls c
JOIN services v ON v.id = c.service_id
WHERE {{where}}
GROUP BY c.service_id, bucket
"""


@dataclass(frozen=True)
class LevelSql:
    """The statements that maintain one level of a hierarchy (tables.Tables.refresh). Parameters as above."""

    name: str
    raw_table: str
    table: str
    delete_range: str  # the buckets of [bucket($2), $3)
    materialise_range: str  # those buckets from the level below (after delete_range)
    accumulate_range: str  # the level below's rows in [$2, $3) added into their buckets (the advance)
    # A late write's buckets, for many services at once (RANGES: $1 service ids, $2 starts, $3 ends,
    # bucket-aligned, not overlapping per service): deleted, then recomputed from the level below.
    delete_ranges: str
    recompute_ranges: str


@dataclass(frozen=True)
class ReaderSql:
    """How one column set of a rollup is read from the tables (app/rollups/tables.py), exact whatever
    the refresh lag. `merging` serves in every case, in one statement ($6 the rollup's name): pending
    ranges are read live and merged (inside a caller's transaction, and whenever `state` finds
    something pending). The usual case takes two statements in one snapshot: `state` ($6 the rollup's
    name) reads the watermark and whether anything is pending; with nothing pending `quick` ($6 the
    instant raw rows are read from, $7 the bucket holding it) takes the materialised buckets as they
    are and merges the bucket holding the watermark with the rollup's SELECT over the raw rows past it:
    the watermark goes in as a value, so the planner keeps only the newest chunks of the raw table.
    `quick_arrays` is `quick` as one row per service with an array per column (_bucket_arrays)."""

    columns: tuple[str, ...]
    merging: str
    state: str
    quick: str
    quick_arrays: str


@dataclass(frozen=True)
class PackedSql:
    """The slot columns of a daily rollup from its packs (sql/085) and its open buckets, in one
    statement without a transaction (_packed_read). `recent` reads raw rows only from RECENT_FLOOR
    before the statement's start, a bound its cached generic plan applies when it is made (chunks
    before it are left out of the plan), and says in `floor_holds` whether that bound lay at or before
    every raw row the read needed; when not (the watermark is older: a stopped worker, a rebuild, old
    test data) `whole` (every chunk) gives the answer. Both say whether the recent bound would hold
    (`recent_floor_holds`), for the reader to choose the next time."""

    recent: str
    whole: str


@dataclass(frozen=True)
class RollupSql(LevelSql):
    """Every statement of one readable rollup, built from its SELECT."""

    columns: tuple[str, ...]
    aggregate: str  # from-scratch aggregate of raw rows in [$2, $3) for services $1
    merge_partial: str  # raw rows of [$2, $3) merged into one bucket labelled $2 (see tables._recut)
    full: ReaderSql  # every column
    slots: ReaderSql | None  # SLOT_COLUMNS only (availability, day grids): a quarter of the width
    packed: PackedSql | None = None  # the daily check rollup's packs


ORDER = "\nORDER BY service_id, bucket"


def _bucket_arrays(reader: str, columns: tuple[str, ...]) -> str:
    """A reader's buckets as one row per service with an array per column, the buckets' starts as
    Unix seconds in `bucket_epochs` (element i of every array is the same bucket). Fewer, cheaper
    values to send and decode than a row per bucket: the status grid reads 50 × 90 days per request.
    The arrays come in no set order (sorting costs more than placing them: app/sla/days.py)."""
    arrays = ", ".join(f"array_agg(r.{c}) AS {c}" for c in columns)
    return f"""
SELECT r.service_id, array_agg(date_part('epoch', r.bucket)::bigint) AS bucket_epochs, {arrays}
FROM ({reader}) r
GROUP BY r.service_id"""


def _merge(column: str) -> str:
    if column == "latency_min_ms":
        return "min(latency_min_ms) AS latency_min_ms"
    if column == "latency_max_ms":
        return "max(latency_max_ms) AS latency_max_ms"
    cast = "bigint" if column in ("latency_sum_ms", "downtime_s") else "int"
    return f"sum({column})::{cast} AS {column}"


def _accumulate(column: str) -> str:
    if column == "latency_min_ms":
        return "latency_min_ms = least(t.latency_min_ms, EXCLUDED.latency_min_ms)"
    if column == "latency_max_ms":
        return "latency_max_ms = greatest(t.latency_max_ms, EXCLUDED.latency_max_ms)"
    # as sum() merges parts: NULL (no latencies) only when both are
    return (
        f"{column} = CASE WHEN t.{column} IS NULL THEN EXCLUDED.{column} "
        f"WHEN EXCLUDED.{column} IS NULL THEN t.{column} ELSE t.{column} + EXCLUDED.{column} END"
    )


def _frozen_before(raw_table: str, width: str, zone: str, rollup: str) -> str:
    """SQL: the first bucket start at or after the retention horizon of the raw table (raw_retention),
    or the rollup's own final boundary after a time-zone change (rollup_state.final_before), whichever
    is later; '-infinity' while nothing was dropped. Buckets before it are final."""
    bucket = f"time_bucket({width}::interval, r.dropped_before, {zone}::text)"
    return f"""greatest(
        coalesce((SELECT CASE WHEN {bucket} = r.dropped_before THEN r.dropped_before
                         ELSE rollup_bucket_end({width}::interval, {bucket}, {zone}::text) END
                  FROM raw_retention r WHERE r.raw_table = '{raw_table}'), '-infinity'::timestamptz),
        coalesce((SELECT s.final_before FROM rollup_state s WHERE s.rollup = {rollup}), '-infinity'::timestamptz))"""


def _of_services(column: str) -> str:
    """SQL: `column` is one of the services $1 (all when $1 is NULL)."""
    return f"($1::text[] IS NULL OR {column} = ANY($1::text[]))"


def _live(template: str, columns: tuple[str, ...], where: str) -> str:
    """The rollup's SELECT over the raw rows `where` picks, narrowed to (service_id, bucket, `columns`)."""
    return (
        f"SELECT x.service_id, x.bucket, {', '.join(f'x.{c}' for c in columns)} FROM ("
        + template.format(where=where)
        + ") x"
    )


def _materialised(table: str, columns: tuple[str, ...]) -> str:
    """The materialised buckets of services $1 in [$2, $3) (alias m); callers add conditions."""
    return f"""SELECT {", ".join(("service_id", "bucket") + columns)} FROM {table} m
WHERE {_of_services("m.service_id")} AND m.bucket >= $2 AND m.bucket < $3"""


def _read(table: str, raw_table: str, template: str, columns: tuple[str, ...]) -> str:
    """The reader of `columns` of one rollup: $1..$5 as above, $6 the rollup's name. `st` holds the
    watermark; `pending` the invalidated ranges below it, widened to whole buckets; `fz`: buckets
    before it lost raw rows to retention, they are final, never pending or read live."""
    picked = ", ".join(f"x.{c}" for c in columns)
    live_new = _live(
        template,
        columns,
        f"{_of_services('c.service_id')} AND c.ts >= $2 AND c.ts < $3 "
        "AND c.ts >= coalesce((SELECT watermark FROM st), '-infinity'::timestamptz) "
        "AND c.ts >= (SELECT frozen_before FROM fz)",
    )
    # Raw rows of the dirty buckets, one index range scan per merged pending range of a service.
    live_dirty = (
        f"SELECT x.service_id, x.bucket, {picked} FROM dirty d CROSS JOIN LATERAL ("
        + template.format(
            where="c.service_id = d.service_id AND c.ts >= d.lo AND c.ts >= $2 AND c.ts < $3 "
            "AND c.ts < (SELECT watermark FROM st) "
            "AND c.ts < rollup_bucket_end($4::interval, time_bucket($4::interval, d.hi, $5::text), $5::text) "
            "AND time_bucket($4::interval, c.ts, $5::text) < d.hi"
        )
        + ") x"
    )
    column_list = ", ".join(("service_id", "bucket") + columns)
    return f"""
WITH st AS (SELECT watermark FROM rollup_state WHERE rollup = $6),
fz AS (SELECT {_frozen_before(raw_table, "$4", "$5", "$6")} AS frozen_before),
pending AS (
    SELECT i.service_id, greatest(time_bucket($4::interval, i.lo, $5::text), (SELECT frozen_before FROM fz)) AS lo, i.hi
    FROM rollup_invalidations i
    WHERE i.raw_table = '{raw_table}' AND {_of_services("i.service_id")}
      AND i.lo < (SELECT watermark FROM st) AND i.hi > $2 AND i.lo < $3 AND i.hi > (SELECT frozen_before FROM fz)
),
-- pending ranges merged per service (gaps and islands), so no raw row is aggregated twice
islands AS (
    SELECT service_id, lo, hi,
           CASE WHEN lo <= max(hi) OVER (PARTITION BY service_id ORDER BY lo, hi
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                THEN 0 ELSE 1 END AS starts_island
    FROM pending
),
dirty AS (
    SELECT service_id, min(lo) AS lo, max(hi) AS hi
    FROM (SELECT *, sum(starts_island) OVER (PARTITION BY service_id ORDER BY lo, hi) AS island FROM islands) i
    GROUP BY service_id, island
),
settled AS (
    SELECT {column_list} FROM {table} m
    WHERE {_of_services("m.service_id")} AND m.bucket >= $2 AND m.bucket < $3
      AND NOT EXISTS (SELECT 1 FROM pending p
                      WHERE p.service_id = m.service_id AND m.bucket >= p.lo AND m.bucket < p.hi)
),
-- Only the bucket holding the watermark and the dirty buckets can have several parts to merge.
open_parts AS (
    SELECT * FROM settled
    WHERE bucket >= coalesce((SELECT time_bucket($4::interval, watermark, $5::text) FROM st), '-infinity')
    UNION ALL ({live_new})
    UNION ALL ({live_dirty})
)
SELECT * FROM settled
WHERE bucket < (SELECT time_bucket($4::interval, watermark, $5::text) FROM st)
UNION ALL
SELECT service_id, bucket, {", ".join(_merge(c) for c in columns)}
FROM open_parts
GROUP BY service_id, bucket"""


def _state(raw_table: str) -> str:
    """WITH clauses of a rollup's state ($4, $5 as above, $6 the rollup's name): `st` the watermark, `fz`
    the final boundary (_frozen_before), `since` the instant raw rows are read live from (NULL while
    nothing was refreshed or dropped)."""
    return f"""WITH st AS (SELECT watermark FROM rollup_state WHERE rollup = $6),
fz AS (SELECT {_frozen_before(raw_table, "$4", "$5", "$6")} AS frozen_before),
since AS (SELECT nullif(greatest(coalesce((SELECT watermark FROM st), '-infinity'), (SELECT frozen_before FROM fz)),
                        '-infinity') AS live_since)"""


def _pending(raw_table: str) -> str:
    """SQL: whether an invalidation of services $1 in [$2, $3) waits below the watermark (after _state)."""
    return f"""EXISTS (SELECT 1 FROM rollup_invalidations i
               WHERE i.raw_table = '{raw_table}' AND {_of_services("i.service_id")}
                 AND i.lo < (SELECT watermark FROM st) AND i.hi > $2 AND i.lo < $3
                 AND i.hi > (SELECT frozen_before FROM fz))"""


def _reader(table: str, raw_table: str, template: str, columns: tuple[str, ...]) -> ReaderSql:
    """ReaderSql of `columns`. quick: $1..$5 as above, $6 the instant raw rows are read from (state's
    live_since; NULL while nothing was refreshed or dropped), $7 the bucket holding it."""
    state = f"""
{_state(raw_table)}
SELECT (SELECT live_since FROM since) AS live_since,
       (SELECT time_bucket($4::interval, live_since, $5::text) FROM since) AS live_bucket,
       -- the reads after this one in its transaction are planned for their values (tables._read)
       set_config('plan_cache_mode', 'force_custom_plan', true) AS plan_cache_mode,
       {_pending(raw_table)} AS pending"""
    materialised = _materialised(table, columns)
    live = _live(
        template,
        columns,
        f"{_of_services('c.service_id')} AND c.ts >= $2 AND c.ts < $3 AND ($6::timestamptz IS NULL OR c.ts >= $6)",
    )
    read = f"""
{materialised} AND ($7::timestamptz IS NULL OR m.bucket < $7)
UNION ALL
SELECT service_id, bucket, {", ".join(_merge(c) for c in columns)}
FROM ({materialised} AND m.bucket >= $7 UNION ALL {live}) p
GROUP BY service_id, bucket"""
    return ReaderSql(
        columns=columns,
        merging=_read(table, raw_table, template, columns) + ORDER,
        state=state,
        quick=read + ORDER,
        quick_arrays=_bucket_arrays(read, columns),
    )


# Ranges of buckets, one per element: $1 service ids (text[]), $2 starts, $3 ends (timestamptz[]).
RANGES = "unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS r(service_id, lo, hi)"
_IN_RANGE = "c.service_id = r.service_id AND c.ts >= r.lo AND c.ts < r.hi"


def _delete_ranges(table: str, time_column: str) -> str:
    return f"""
DELETE FROM {table} t USING {RANGES}
WHERE t.service_id = r.service_id AND t.{time_column} >= r.lo AND t.{time_column} < r.hi"""


def _recompute_ranges(table: str, columns: tuple[str, ...], source: str) -> str:
    """`source` (a level's SELECT from the level below) for each range, one index range scan each;
    $4 and $5 (width, zone) as in every template."""
    return f"""
INSERT INTO {table} ({", ".join(columns)})
SELECT {", ".join(f"x.{c}" for c in columns)} FROM {RANGES} CROSS JOIN LATERAL ({source.format(where=_IN_RANGE)}) x"""


def _build(
    name: str,
    raw_table: str,
    template: str,
    columns: tuple[str, ...],
    slot_columns: tuple[str, ...] | None = None,
    *,
    source: str | None = None,
) -> RollupSql:
    """`template`: the rollup's SELECT over raw rows (reads, the reference); `source`: the same figures
    from the level below, which the refresh materialises from (default: `template`)."""
    table = f"rollup_{name}"
    services = _of_services("c.service_id")
    aggregate = template.format(where=f"{services} AND c.ts >= $2 AND c.ts < $3")
    below = (source or template).format(where=f"{services} AND c.ts >= $2 AND c.ts < $3")
    delete_range = f"""
DELETE FROM {table}
WHERE {_of_services("service_id")}
  AND bucket >= time_bucket($4::interval, $2::timestamptz, $5::text) AND bucket < $3"""
    whole_buckets = f"{services} AND c.ts >= time_bucket($4::interval, $2::timestamptz, $5::text) AND c.ts < $3"
    materialise_range = f"""
INSERT INTO {table} ({", ".join(("service_id", "bucket") + columns)})
{(source or template).format(where=whole_buckets)}"""
    column_list = ", ".join(("service_id", "bucket") + columns)
    # $6: the start of the bucket holding $2. Earlier pieces of that bucket (labelled in [$6, $2)) are
    # merged in, so that a bucket is one row whatever its history.
    merge_partial = f"""
WITH piece AS (
    DELETE FROM {table} WHERE {_of_services("service_id")} AND bucket >= $6 AND bucket < $2
    RETURNING {column_list}
),
fresh AS (SELECT service_id, $2::timestamptz AS bucket, {", ".join(columns)} FROM ({aggregate}) a)
INSERT INTO {table} ({column_list})
SELECT service_id, min(bucket), {", ".join(_merge(c) for c in columns)}
FROM (SELECT * FROM piece UNION ALL SELECT * FROM fresh) p
GROUP BY service_id"""
    # The refresh's advance from the old watermark $2 to the new one $3: only the rows of the level below
    # in between are aggregated and added to their buckets (counts and sums add, min and max combine),
    # so its cost follows the new rows, not the size of the open day. Exact because the buckets already
    # hold every row before $2 and raw rows are only ever inserted: a row written later for an earlier
    # time comes with an invalidation, and its bucket is recomputed whole (tables._refresh_one).
    accumulate_range = f"""
INSERT INTO {table} AS t ({column_list})
{below}
ON CONFLICT (service_id, bucket) DO UPDATE SET {", ".join(_accumulate(c) for c in columns)}"""
    return RollupSql(
        name=name,
        raw_table=raw_table,
        table=table,
        delete_ranges=_delete_ranges(table, "bucket"),
        recompute_ranges=_recompute_ranges(table, ("service_id", "bucket") + columns, source or template),
        columns=columns,
        aggregate=aggregate,
        merge_partial=merge_partial,
        delete_range=delete_range,
        materialise_range=materialise_range,
        accumulate_range=accumulate_range,
        full=_reader(table, raw_table, template, columns),
        slots=_reader(table, raw_table, template, slot_columns) if slot_columns else None,
    )


CHECKS_COLUMNS = (
    "slots",
    "ok_slots",
    "failed_slots",
    "downtime_s",
    "over_target",
    "latency_count",
    "latency_sum_ms",
    "latency_min_ms",
    "latency_max_ms",
) + HISTOGRAM_COLUMNS
USAGE_COLUMNS = (
    "calls",
    "ok_200",
    "errors",
    "c4xx",
    "c5xx",
    "over_target",
    "latency_sum_ms",
    "latency_min_ms",
    "latency_max_ms",
) + HISTOGRAM_COLUMNS

SLOT_COLUMNS = ("slots", "ok_slots", "failed_slots", "downtime_s")

# --- the first levels (sql/200) ---------------------------------------------------------------

_SLOT_RANGE = (
    f"{_of_services('c.service_id')} AND c.ts >= time_bucket($4::interval, $2::timestamptz, $5::text) AND c.ts < $3"
)
# $4 and $5 are '1 second' and 'UTC' here: a slot is its own bucket. Slots past the old watermark are new
# (the level holds exactly the slots before it), so the advance only inserts.
_INSERT_SLOTS = f"""
INSERT INTO rollup_check_slots (service_id, ts, ok, latency_ms)
SELECT s.service_id, s.ts, s.ok, s.latency_ms FROM ({CHECK_SLOTS.format(where=_SLOT_RANGE)}) s"""
CHECK_SLOT_LEVEL = LevelSql(
    name="check_slots",
    raw_table="checks",
    table="rollup_check_slots",
    delete_range=f"""
DELETE FROM rollup_check_slots c WHERE {_SLOT_RANGE}""",
    materialise_range=_INSERT_SLOTS,
    accumulate_range=_INSERT_SLOTS,
    delete_ranges=_delete_ranges("rollup_check_slots", "ts"),
    # $4, $5 unused by the slots' SELECT, named so that every level takes the same arguments
    recompute_ranges=_recompute_ranges("rollup_check_slots", ("service_id", "ts", "ok", "latency_ms"), CHECK_SLOTS)
    + " WHERE $4::interval IS NOT NULL AND $5::text IS NOT NULL",
)
_USAGE_MINUTES = _build("usage_minutes", "api_calls", USAGE_BUCKETS, USAGE_COLUMNS)
USAGE_MINUTE_LEVEL = LevelSql(
    name=_USAGE_MINUTES.name,
    raw_table="api_calls",
    table=_USAGE_MINUTES.table,
    delete_range=_USAGE_MINUTES.delete_range,
    materialise_range=_USAGE_MINUTES.materialise_range,
    accumulate_range=_USAGE_MINUTES.accumulate_range,
    delete_ranges=_USAGE_MINUTES.delete_ranges,
    recompute_ranges=_USAGE_MINUTES.recompute_ranges,
)
# The usage rollup's figures from its minutes: minute buckets never straddle a day in any zone in use.
USAGE_OF_MINUTES = f"""
SELECT c.service_id, time_bucket($4::interval, c.ts, $5::text) AS bucket,
       {", ".join(_merge(c) for c in USAGE_COLUMNS)}
FROM (SELECT m.*, m.bucket AS ts FROM rollup_usage_minutes m) c
WHERE {{where}}
GROUP BY c.service_id, 2
"""

# --- the readable rollups ----------------------------------------------------------------------

CHECKS_HOURLY = _build("checks_hourly", "checks", CHECKS_BUCKETS, CHECKS_COLUMNS, SLOT_COLUMNS, source=CHECKS_OF_SLOTS)
# The binary form of the packs (sql/085): each slot column, and the bucket starts, as concatenated
# big-endian integers of these types.
PACK_TYPES = {
    "bucket_epochs": "int8",
    "slots": "int4",
    "ok_slots": "int4",
    "failed_slots": "int4",
    "downtime_s": "int8",
}


# How far before a statement's start the `recent` packed read looks for raw rows: past the watermark of
# a worker that refreshes every 30 s with room to spare, and one or two daily chunks of `checks`.
RECENT_FLOOR = "now() - interval '1 day'"


def _packed_read(table: str, raw_table: str, template: str, floor: str) -> str:
    """The slot columns of [$2, $3) for services $1 in one statement, without a transaction: $4, $5 as
    above, $6 the rollup's name. Rows with `part` 0 are the packs of the months that can hold buckets in
    the range, each service's months joined in bucket order, from which the reader keeps the buckets
    before `live_bucket`; `part` 1, the buckets from `live_bucket` on (materialised, merged with the raw
    rows past `live_since`), in the same binary form. Every row carries the state (`live_since`,
    `live_bucket`, `pending`); with nothing to read, one row carries it alone. While `pending`, the
    parts are empty and the merging reader must serve. Raw rows before `floor` are not read;
    `floor_holds` says whether it lay at or before every raw row the read needed (max(live_since, $2)),
    `recent_floor_holds` whether RECENT_FLOOR did."""
    live = _live(
        template,
        SLOT_COLUMNS,
        f"{_of_services('c.service_id')} AND c.ts >= $2 AND c.ts < $3 "
        f"AND c.ts >= {floor} AND c.ts >= coalesce((SELECT live_since FROM state), '-infinity')",
    )
    packed_columns = ", ".join(f"string_agg({c}, '' ORDER BY month) AS {c}" for c in PACK_TYPES)
    values = {c: c for c in SLOT_COLUMNS} | {"bucket_epochs": "date_part('epoch', bucket)::bigint"}
    encoded = ", ".join(f"string_agg({t}send({values[c]}), '' ORDER BY bucket)" for c, t in PACK_TYPES.items())
    return f"""
{_state(raw_table)},
state AS (
    SELECT (SELECT live_since FROM since) AS live_since,
           (SELECT time_bucket($4::interval, live_since, $5::text) FROM since) AS live_bucket,
           {_pending(raw_table)} AS pending,
           {floor} <= greatest((SELECT live_since FROM since), $2::timestamptz) AS floor_holds,
           {RECENT_FLOOR} <= greatest((SELECT live_since FROM since), $2::timestamptz) AS recent_floor_holds
),
open_buckets AS (
    SELECT service_id, bucket, {", ".join(_merge(c) for c in SLOT_COLUMNS)}
    FROM ({_materialised(table, SLOT_COLUMNS)} AND m.bucket >= (SELECT live_bucket FROM state)
          UNION ALL {live}) p
    GROUP BY service_id, bucket
),
parts AS (
    SELECT service_id, 0 AS part, {packed_columns}
    FROM {table}_packs
    WHERE {_of_services("service_id")} AND month >= date_trunc('month', $2::timestamptz, 'UTC') AND month < $3
    GROUP BY service_id
    UNION ALL
    SELECT service_id, 1, {encoded}
    FROM open_buckets
    GROUP BY service_id
)
SELECT s.live_since, s.live_bucket, s.pending, s.floor_holds, s.recent_floor_holds, p.*
FROM state s LEFT JOIN parts p ON NOT s.pending AND s.floor_holds"""


def _packed(table: str, raw_table: str, template: str) -> PackedSql:
    return PackedSql(
        recent=_packed_read(table, raw_table, template, RECENT_FLOOR),
        whole=_packed_read(table, raw_table, template, "'-infinity'::timestamptz"),
    )


def _days_of_hours() -> str:
    """The daily check buckets of RANGES (day-aligned in zone $5, $4 = 1 day) from the hourly ones, for a
    late write's recomputation: an hour inside its range and its day is taken as summed; an hour that
    straddles a day boundary (zones with :30 and :45 offsets, Australia/Lord_Howe's DST) or an end of
    the range (the watermark) gives its slots in the range instead. Exact because the hourly level is
    complete up to the watermark when the daily one is refreshed (levels.LEVELS), and every hour with
    slots has an hourly row. 24 rows a day for most services, instead of 1,440 slots."""
    hour_end = "e.bucket + interval '1 hour'"
    whole = f"""e.bucket >= r.lo AND {hour_end} <= r.hi
          AND time_bucket($4::interval, e.bucket, $5::text)
              = time_bucket($4::interval, {hour_end} - interval '1 microsecond', $5::text)"""
    columns = ", ".join(("service_id", "bucket") + CHECKS_COLUMNS)
    in_range = "c.service_id = e.service_id AND c.ts >= e.bucket AND c.ts < " + hour_end
    slots = CHECKS_OF_SLOTS.format(where=f"{in_range} AND c.ts >= r.lo AND c.ts < r.hi")
    return f"""
INSERT INTO rollup_checks_daily ({columns})
SELECT x.* FROM {RANGES} CROSS JOIN LATERAL (
    SELECT p.service_id, p.bucket, {", ".join(_merge(c) for c in CHECKS_COLUMNS)}
    FROM (
        SELECT e.service_id, time_bucket($4::interval, e.bucket, $5::text) AS bucket,
               {", ".join(f"e.{c}" for c in CHECKS_COLUMNS)}
        FROM rollup_checks_hourly e
        WHERE e.service_id = r.service_id AND {whole}
        UNION ALL
        SELECT y.* FROM rollup_checks_hourly e CROSS JOIN LATERAL ({slots}) y
        WHERE e.service_id = r.service_id AND {hour_end} > r.lo AND e.bucket < r.hi AND NOT ({whole})
    ) p
    GROUP BY p.service_id, p.bucket
) x"""


CHECKS_DAILY = replace(
    _build("checks_daily", "checks", CHECKS_BUCKETS, CHECKS_COLUMNS, SLOT_COLUMNS, source=CHECKS_OF_SLOTS),
    packed=_packed("rollup_checks_daily", "checks", CHECKS_BUCKETS),
    recompute_ranges=_days_of_hours(),
)
USAGE_DAILY = _build("usage_daily", "api_calls", USAGE_BUCKETS, USAGE_COLUMNS, source=USAGE_OF_MINUTES)

# --- state and invalidation log -------------------------------------------------------------

LOCK_REFRESH = "SELECT pg_advisory_xact_lock(5308417)"  # one refresher at a time

GET_STATE = "SELECT watermark, timezone FROM rollup_state WHERE rollup = $1"

BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

# What a refresh that took in logged writes rewrote (sql/270): the oldest raw instant whose buckets it
# materialised or recomputed for them ($1; 1970 for a recut in another zone) and the instant it
# materialised up to ($2).
RECORD_REWRITE = """
INSERT INTO rollup_rewrites (one, rewritten_from, refreshed_to) VALUES (true, $1, $2)
ON CONFLICT (one) DO UPDATE SET rewritten_from = $1, refreshed_to = $2, rewritten_at = now()
"""

# $1 bucket width, $2 zone, $3 rollup name: where its final buckets end (None: nothing dropped yet).
FROZEN_BEFORE = {
    raw_table: f"SELECT nullif({_frozen_before(raw_table, '$1', '$2', '$3')}, '-infinity')"
    for raw_table in ("checks", "api_calls")
}

SET_FINAL_BEFORE = "UPDATE rollup_state SET final_before = $2 WHERE rollup = $1"

PUT_STATE = """
INSERT INTO rollup_state (rollup, watermark, timezone, refreshed_at) VALUES ($1, $2, $3, now())
ON CONFLICT (rollup) DO UPDATE
SET watermark = EXCLUDED.watermark, timezone = EXCLUDED.timezone, refreshed_at = now()
"""

MIN_RAW_TS = {"checks": "SELECT min(ts) FROM checks", "api_calls": "SELECT min(ts) FROM api_calls"}

TAKE_INVALIDATIONS = """
DELETE FROM rollup_invalidations WHERE raw_table = $1
RETURNING service_id, lo, hi
"""

# Widen an invalidated range to whole buckets: [bucket(lo), end of the bucket holding hi).
BUCKET_SPAN = """
SELECT time_bucket($1::interval, $2::timestamptz, $4::text) AS lo,
       CASE WHEN time_bucket($1::interval, $3::timestamptz, $4::text) = $3 THEN $3
            ELSE rollup_bucket_end($1::interval, time_bucket($1::interval, $3::timestamptz, $4::text), $4::text)
       END AS hi
"""

# BUCKET_SPAN for many ranges at once: RANGES widened to whole buckets of width $4 in zone $5.
BUCKET_SPANS = f"""
SELECT r.service_id, time_bucket($4::interval, r.lo, $5::text) AS lo,
       CASE WHEN time_bucket($4::interval, r.hi, $5::text) = r.hi THEN r.hi
            ELSE rollup_bucket_end($4::interval, time_bucket($4::interval, r.hi, $5::text), $5::text)
       END AS hi
FROM {RANGES}
"""

BUCKET_FLOOR = "SELECT time_bucket($1::interval, $2::timestamptz, $3::text)"

LOG_INVALIDATIONS = """
INSERT INTO rollup_invalidations (raw_table, service_id, lo, hi)
SELECT $1, service_id, lo, hi FROM unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS t(service_id, lo, hi)
"""


ALL_SERVICE_IDS = "SELECT id FROM services"
