"""Rollups as continuous aggregates (`timescaledb.license = 'timescale'`, sql/tsl/090_caggs.sql).

Written from TimescaleDB 2.19's documentation; the Apache build this project is tested on cannot run
it (the tests that need it skip there). Its SELECTs are checked against the Apache rollups on every
machine (tests/app/rollups/test_caggs.py).

Exactness, as on 'apache': a read equals a from-scratch aggregate of the raw rows whatever the refresh
lag. The aggregates' real-time part covers rows past their watermark; rows written below it (late
prober spools, replays, a changed service) are in rollup_invalidations, written by the ingest in the
same transaction as the rows, and their buckets are read live from raw rows until the refresh has
re-materialised every level over them. Only then does the refresh delete those log entries.

Retention: raw chunks are dropped by app/retention, which records the horizon (raw_retention). A
refresh over dropped chunks would delete their aggregated rows (docs: "Data retention with continuous
aggregates"), so first-level refresh windows start at the horizon and readers never read buckets
before it live. Second levels read the first level, which keeps every slot, so they may be refreshed
(and rebuilt in another zone) over any range.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

import asyncpg

from app import db
from app.periods import merge_intervals
from app.rollups import queries
from app.rollups.levels import ROLLUPS, Arrays, Ask, Columns, RefreshReport, as_arrays
from app.rollups.queries import (
    CHECKS_BUCKETS,
    CHECKS_COLUMNS,
    HISTOGRAM_COLUMNS,
    LATENCY_BOUNDS_MS,
    SLOT_COLUMNS,
    USAGE_BUCKETS,
    USAGE_COLUMNS,
)

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # a finite window start (NULL broke zoned caggs before 2.10.2)

# The caggs serve the rollups once the Timescale License runs and sql/tsl/ was applied.
IN_USE = "SELECT current_setting('timescaledb.license', true) = 'timescale' AND to_regclass('rollup_caggs') IS NOT NULL"


@dataclass(frozen=True)
class Cagg:
    view: str
    width: timedelta
    zoned: bool  # cut in SLAMON_TIMEZONE (daily) rather than UTC
    # What a changed `services` row (interval, latency target; TimescaleDB does not track it) takes,
    # sql/tsl/092: nothing (the level does not read it), "force" (the logged ranges re-materialised,
    # every service at once) or "restamp" (the service's rows whose applied_* differ rewritten, RESTAMP).
    on_catalog: Literal["", "force", "restamp"]
    # The level whose rows readers sum for the buckets past this one's watermark, instead of its own
    # real-time part (sql/tsl/093: this aggregate is then materialised-only); None: its real-time part.
    live_from: Cagg | None = None


CHECK_SLOTS = Cagg("cagg_check_slots", timedelta(seconds=1), zoned=False, on_catalog="")
USAGE_MINUTES = Cagg("cagg_usage_minutes", timedelta(minutes=1), zoned=False, on_catalog="force")
CHECKS_HOURLY = Cagg("cagg_checks_hourly", timedelta(hours=1), zoned=False, on_catalog="restamp")
CHECKS_DAILY = Cagg("cagg_checks_daily", timedelta(days=1), zoned=True, on_catalog="restamp", live_from=CHECKS_HOURLY)
USAGE_DAILY = Cagg("cagg_usage_daily", timedelta(days=1), zoned=True, on_catalog="")
# raw table -> its first level and the second levels built on it, refreshed in that order
LEVELS = {"checks": (CHECK_SLOTS, (CHECKS_HOURLY, CHECKS_DAILY)), "api_calls": (USAGE_MINUTES, (USAGE_DAILY,))}
VIEWS = tuple(c.view for first, second in LEVELS.values() for c in (first, *second))

# --- readers ----------------------------------------------------------------------------------
# The second level's SELECT over the first level, in the zone asked for ($4 width, $5 zone): what the
# daily views hold, computed at read time while they are still cut in another zone.
_SLOT_HIST = ",\n".join(
    f"       count(*) FILTER (WHERE s.ok AND s.latency_ms < {b})::int AS lat_lt_{b}" for b in LATENCY_BOUNDS_MS
)
_CHECKS_OF_CAGG_SLOTS = f"""
SELECT s.service_id, time_bucket($4::interval, s.ts, $5::text) AS bucket,
       count(*)::int AS slots,
       count(*) FILTER (WHERE s.ok)::int AS ok_slots,
       count(*) FILTER (WHERE NOT s.ok)::int AS failed_slots,
       coalesce(sum(v.interval_s) FILTER (WHERE NOT s.ok), 0)::bigint AS downtime_s,
       count(*) FILTER (WHERE s.ok AND s.latency_ms > v.latency_target_ms)::int AS over_target,
       count(s.latency_ms) FILTER (WHERE s.ok)::int AS latency_count,
       sum(s.latency_ms) FILTER (WHERE s.ok)::bigint AS latency_sum_ms,
       min(s.latency_ms) FILTER (WHERE s.ok) AS latency_min_ms,
       max(s.latency_ms) FILTER (WHERE s.ok) AS latency_max_ms,
{_SLOT_HIST}
FROM cagg_check_slots s
JOIN services v ON v.id = s.service_id
WHERE {{where}}
GROUP BY s.service_id, bucket
"""
CHECKS_FROM_SLOTS = _CHECKS_OF_CAGG_SLOTS.format(
    where="($1::text[] IS NULL OR s.service_id = ANY($1::text[])) AND s.ts >= $2 AND s.ts < $3"
)
_SUMMED = ("calls", "ok_200", "errors", "c4xx", "c5xx", "over_target") + HISTOGRAM_COLUMNS
USAGE_FROM_MINUTES = f"""
SELECT m.service_id, time_bucket($4::interval, m.bucket, $5::text) AS bucket,
       {", ".join(f"sum(m.{c})::int AS {c}" for c in _SUMMED)},
       sum(m.latency_sum_ms)::bigint AS latency_sum_ms,
       min(m.latency_min_ms) AS latency_min_ms, max(m.latency_max_ms) AS latency_max_ms
FROM cagg_usage_minutes m
WHERE ($1::text[] IS NULL OR m.service_id = ANY($1::text[])) AND m.bucket >= $2 AND m.bucket < $3
GROUP BY m.service_id, 2
"""


def _past_watermark(cagg: Cagg, columns: tuple[str, ...], zone_ok: str) -> tuple[str, str]:
    """(WITH clauses, SELECT): the buckets of `cagg` at or past its watermark, summed from the rows of
    `cagg.live_from` ($1..$5 as in queries.py), with whether any of them is stale. Its real-time part
    would sum every slot of the open day (72,000 for 50 services), with a join on `services` the
    planner misjudges; the hourly aggregate holds that day in 24 rows per service, and its own
    real-time part is the last hour's slots (docs/operations.md, "Rollups"). An hour that straddles a
    bucket boundary (a zone whose days start at :30 or :45 UTC) or starts before the watermark gives
    its slots instead, from the first level."""
    assert cagg.live_from is not None
    below = cagg.live_from
    hour = f"INTERVAL '{int(below.width.total_seconds())} seconds'"
    nests = (
        f"time_bucket($4::interval, h.bucket, $5::text) = "
        f"time_bucket($4::interval, h.bucket + {hour} - INTERVAL '1 microsecond', $5::text)"
    )
    stale = "(h.applied_interval_s, h.applied_latency_target_ms) IS DISTINCT FROM (v.interval_s, v.latency_target_ms)"
    # No catalog row: the plain views that stand in for the aggregates in tests/app/rollups/test_caggs.py
    # on any edition, which hold every bucket.
    ctes = f"""wm AS (
    SELECT coalesce((
        SELECT _timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id))
        FROM _timescaledb_catalog.continuous_agg c
        WHERE to_regclass(format('%I.%I', c.user_view_schema, c.user_view_name)) = '{cagg.view}'::regclass
    ), 'infinity'::timestamptz) AS at
),
hours AS (
    SELECT h.service_id, h.bucket, {", ".join(f"h.{c}" for c in columns)}, {stale} AS stale, {nests} AS nests
    FROM {below.view} h LEFT JOIN services v ON v.id = h.service_id
    WHERE ($1::text[] IS NULL OR h.service_id = ANY($1::text[]))
      AND h.bucket >= greatest($2, (SELECT at FROM wm)) - {hour} AND {zone_ok}
),"""
    picked = ", ".join(f"x.{c}" for c in columns)
    hourly = ", ".join(f"h.{c}" for c in columns)
    straddling = _CHECKS_OF_CAGG_SLOTS.format(where="s.service_id = o.service_id AND s.ts >= o.lo AND s.ts < o.hi")
    select = f"""SELECT l.service_id, l.bucket, {", ".join(queries._merge(c) for c in columns)}, bool_or(l.stale)
    FROM (
        SELECT h.service_id, time_bucket($4::interval, h.bucket, $5::text) AS bucket, {hourly}, h.stale
        FROM hours h WHERE h.nests AND h.bucket >= (SELECT at FROM wm)
        UNION ALL
        SELECT x.service_id, x.bucket, {picked}, false
        FROM (SELECT h.service_id, greatest(h.bucket, (SELECT at FROM wm)) AS lo, h.bucket + {hour} AS hi
              FROM hours h
              WHERE h.bucket + {hour} > (SELECT at FROM wm) AND (NOT h.nests OR h.bucket < (SELECT at FROM wm))) o
        CROSS JOIN LATERAL ({straddling}) x
    ) l
    WHERE l.bucket >= $2 AND l.bucket < $3
    GROUP BY l.service_id, l.bucket"""
    return ctes, select


def _reader(
    rollup: str, raw_table: str, cagg: Cagg, from_first_level: str, raw_template: str, columns: tuple[str, ...]
) -> str:
    """$1..$5 as in queries.py, $6 the rollup's name. `dirty`: the logged ranges not yet refreshed,
    and the materialised buckets that applied another interval or latency target than `services`
    has now (restamped by the refresh), widened to whole buckets and merged per service (gaps and
    islands), read live from raw rows; the rest from the aggregate, or from the first level while the
    daily view is cut in another zone."""
    picked = ", ".join(f"x.{c}" for c in columns)
    zone_ok = (
        f"EXISTS (SELECT 1 FROM rollup_caggs z WHERE z.rollup = '{rollup}' AND z.timezone = $5::text)"
        if cagg.zoned
        else "true"
    )
    # `stale`: the row applied another interval or latency target than `services` has now (sql/tsl/092).
    restamps = cagg.on_catalog == "restamp"
    stale = (
        "(m.applied_interval_s, m.applied_latency_target_ms) IS DISTINCT FROM (v.interval_s, v.latency_target_ms)"
        if restamps
        else "false"
    )
    source = f"{cagg.view} m LEFT JOIN services v ON v.id = m.service_id" if restamps else f"{cagg.view} m"
    materialised = (
        f"SELECT m.service_id, m.bucket, {', '.join(f'm.{c}' for c in columns)}, {stale} AS stale FROM {source} "
        "WHERE ($1::text[] IS NULL OR m.service_id = ANY($1::text[])) AND m.bucket >= $2 AND m.bucket < $3"
        f" AND {zone_ok}"
    )
    past_ctes = ""
    if cagg.live_from is not None:  # the aggregate is materialised-only: its buckets past the watermark
        past_ctes, past = _past_watermark(cagg, columns, zone_ok)
        materialised += f"\n    UNION ALL {past}"
    if cagg.zoned:  # the first level summed with the current `services`: never stale
        materialised += (
            f"\n    UNION ALL SELECT x.service_id, x.bucket, {picked}, false FROM ({from_first_level}) x"
            f" WHERE NOT {zone_ok}"
        )
    live_dirty = (
        f"SELECT x.service_id, x.bucket, {picked} FROM dirty d CROSS JOIN LATERAL ("
        + raw_template.format(
            where="c.service_id = d.service_id AND c.ts >= d.lo AND c.ts >= $2 AND c.ts < $3 "
            "AND c.ts < rollup_bucket_end($4::interval, time_bucket($4::interval, d.hi, $5::text), $5::text) "
            "AND time_bucket($4::interval, c.ts, $5::text) < d.hi"
        )
        + ") x"
    )
    # The retention horizon, bucket-aligned upwards (queries._frozen_before; the 'apache'-only zone
    # recut boundary it also reads is never set on this path).
    frozen = queries._frozen_before(raw_table, "$4", "$5", "$6")
    # (One read of the aggregate: `materialised`, referenced twice, is computed once.)
    restamped = (
        """
    UNION ALL
    SELECT m.service_id, m.bucket, rollup_bucket_end($4::interval, m.bucket, $5::text)
    FROM materialised m WHERE m.stale AND m.bucket >= (SELECT frozen_before FROM fz)"""
        if restamps
        else ""
    )
    return f"""
WITH fz AS (SELECT {frozen} AS frozen_before),
{past_ctes}
materialised AS (
    {materialised}
),
pending AS (
    SELECT i.service_id, greatest(time_bucket($4::interval, i.lo, $5::text), (SELECT frozen_before FROM fz)) AS lo, i.hi
    FROM rollup_invalidations i
    WHERE i.raw_table = '{raw_table}' AND ($1::text[] IS NULL OR i.service_id = ANY($1::text[]))
      AND i.hi > $2 AND i.lo < $3 AND i.hi > (SELECT frozen_before FROM fz){restamped}
),
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
)
SELECT m.service_id, m.bucket, {", ".join(f"m.{c}" for c in columns)} FROM materialised m
WHERE NOT EXISTS (SELECT 1 FROM dirty d WHERE d.service_id = m.service_id AND m.bucket >= d.lo AND m.bucket < d.hi)
UNION ALL ({live_dirty})
ORDER BY service_id, bucket"""


def _readers(
    rollup: str,
    raw_table: str,
    cagg: Cagg,
    from_first_level: str,
    raw_template: str,
    columns: tuple[str, ...],
    slot_columns: tuple[str, ...] | None = None,
) -> tuple[str, str | None]:
    full = _reader(rollup, raw_table, cagg, from_first_level, raw_template, columns)
    slots = _reader(rollup, raw_table, cagg, from_first_level, raw_template, slot_columns) if slot_columns else None
    return full, slots


# rollup name -> (reader of every column, reader of queries.SLOT_COLUMNS)
READERS = {
    "checks_hourly": _readers(
        "checks_hourly", "checks", CHECKS_HOURLY, CHECKS_FROM_SLOTS, CHECKS_BUCKETS, CHECKS_COLUMNS, SLOT_COLUMNS
    ),
    "checks_daily": _readers(
        "checks_daily", "checks", CHECKS_DAILY, CHECKS_FROM_SLOTS, CHECKS_BUCKETS, CHECKS_COLUMNS, SLOT_COLUMNS
    ),
    "usage_daily": _readers("usage_daily", "api_calls", USAGE_DAILY, USAGE_FROM_MINUTES, USAGE_BUCKETS, USAGE_COLUMNS),
}

# --- refresh ------------------------------------------------------------------------------------
LOCK = "SELECT pg_advisory_lock(5308417)"  # the key of queries.LOCK_REFRESH: one refresher at a time
UNLOCK = "SELECT pg_advisory_unlock(5308417)"
# A procedure that commits as it goes: never inside a transaction block (docs: refresh_continuous_aggregate).
# Only buckets entirely inside the window are refreshed; `force` re-materialises them even when
# TimescaleDB saw no change (a changed `services` row, which it does not track).
REFRESH = "CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz, force => $4::boolean)"
# One pass, not batches of 10 buckets (the default since 2.28; sql/tsl/091_caggs_one_pass.sql).
REFRESH_ONE_PASS = (
    "CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz, "
    "force => $4::boolean, options => '{\"buckets_per_batch\": 0}'::jsonb)"
)
HAS_REFRESH_OPTIONS = (
    "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'refresh_continuous_aggregate' "
    "AND 'options' = ANY(proargnames))"
)
DAILY_ZONE = "SELECT timezone FROM rollup_caggs WHERE rollup = 'checks_daily'"
# Top-level statements: TimescaleDB 2.19 refuses a second DROP of a continuous aggregate inside plpgsql.
DROP_DAILY = "DROP MATERIALIZED VIEW IF EXISTS cagg_checks_daily; DROP MATERIALIZED VIEW IF EXISTS cagg_usage_daily"
CREATE_DAILY = "SELECT rollup_create_daily_caggs($1)"
# A refresh policy's job holds the aggregate's refresh lock while it runs ("… due to a concurrent
# refresh", LockNotAvailableError): the worker's refresh waits and tries again, up to about a minute.
BUSY_RETRIES = (0.2, 0.5, 1, 2, 4, 8, 15, 30)
# Where an aggregate's materialised buckets end (their real-time part starts), no earlier than $2.
WATERMARK = (
    "SELECT greatest(_timescaledb_functions.to_timestamp(_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)),"
    " $2::timestamptz) FROM _timescaledb_catalog.continuous_agg c"
    " WHERE to_regclass(format('%I.%I', c.user_view_schema, c.user_view_name)) = $1::regclass"
)
PENDING = "SELECT id, raw_table, service_id, lo, hi FROM rollup_invalidations ORDER BY id"
FORGET = "DELETE FROM rollup_invalidations WHERE id = ANY($1::bigint[])"
HORIZONS = "SELECT raw_table, dropped_before FROM raw_retention"
MATERIALISED_IN = (
    "SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name) "
    "FROM timescaledb_information.continuous_aggregates WHERE view_name = $1"
)
# A changed `services` row without a refresh (sql/tsl/092): the materialised buckets of services $1
# (width $2, zone $3, rollup name $4) that applied another interval or latency target than `services`
# has now get the two figures that depend on them again, from the first level's slots; {mat} is the
# aggregate's materialisation hypertable (MATERIALISED_IN). Buckets before the retention horizon keep
# what they applied, as on the Apache path.
RESTAMP = f"""
WITH fz AS (SELECT {queries._frozen_before("checks", "$2", "$3", "$4")} AS frozen_before),
stale AS (
    SELECT m.service_id, m.bucket
    FROM {{mat}} m JOIN services v ON v.id = m.service_id
    WHERE m.service_id = ANY($1::text[]) AND m.bucket >= (SELECT frozen_before FROM fz)
      AND (m.applied_interval_s, m.applied_latency_target_ms) IS DISTINCT FROM (v.interval_s, v.latency_target_ms)
),
fresh AS (
    SELECT s.service_id, time_bucket($2::interval, s.ts, $3::text) AS bucket,
           coalesce(sum(v.interval_s) FILTER (WHERE NOT s.ok), 0)::bigint AS downtime_s,
           count(*) FILTER (WHERE s.ok AND s.latency_ms > v.latency_target_ms)::int AS over_target,
           min(v.interval_s) AS interval_s, min(v.latency_target_ms) AS latency_target_ms
    FROM cagg_check_slots s JOIN services v ON v.id = s.service_id
    WHERE s.service_id = ANY($1::text[]) AND s.ts >= (SELECT min(bucket) FROM stale)
    GROUP BY 1, 2
)
UPDATE {{mat}} m
SET downtime_s = f.downtime_s, over_target = f.over_target,
    applied_interval_s = f.interval_s, applied_latency_target_ms = f.latency_target_ms
FROM fresh f JOIN stale st USING (service_id, bucket)
WHERE m.service_id = f.service_id AND m.bucket = f.bucket
"""
# Just past the newest raw row: a logged range is re-materialised up to there (FAR_FUTURE ranges too).
RAW_END = {t: f"SELECT max(ts) + INTERVAL '1 second' FROM {t}" for t in ("checks", "api_calls")}


async def in_use(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval(IN_USE))


class Caggs:
    """The 'caggs' backend (levels.Backend): this module's readers and refresh."""

    name = "caggs"
    refreshes_in_transaction = False

    async def refresh(self, conn: asyncpg.Connection, timezone_name: str, target: datetime) -> list[RefreshReport]:
        ranges = await refresh(conn, timezone_name, target)
        if ranges is None:
            return [RefreshReport(r.name, None, 0) for r in ROLLUPS]
        return [RefreshReport(r.name, target, ranges[r.sql.raw_table]) for r in ROLLUPS]

    async def read(self, conn: asyncpg.Connection, ask: Ask, columns: Columns) -> list[asyncpg.Record]:
        full, slots = READERS[ask.rollup.name]
        sql = full if columns is Columns.ALL else slots
        if sql is None:
            raise ValueError(f"rollup {ask.rollup.name} has no slot columns")
        return await conn.fetch(sql, *ask.args, ask.rollup.name)

    async def read_arrays(self, conn: asyncpg.Connection, ask: Ask) -> Arrays:
        return as_arrays(await self.read(conn, ask, Columns.SLOTS))


@dataclass
class Known:
    """Per process (db.Memory): whether the server's refresh_continuous_aggregate takes `options`."""

    one_pass: bool | None = None


async def _refresh_statement(conn: asyncpg.Connection) -> str:
    known = db.memory(conn).of(Known)
    if known.one_pass is None:
        known.one_pass = bool(await conn.fetchval(HAS_REFRESH_OPTIONS))
    return REFRESH_ONE_PASS if known.one_pass else REFRESH


async def refresh(conn: asyncpg.Connection, timezone_name: str, target: datetime) -> dict[str, int] | None:
    """Materialise every aggregate up to `target` and re-materialise the logged ranges; return the
    number of merged ranges per raw table, or None when called inside a transaction (refused there) or
    when refresh policies kept the aggregates busy past the retries (the ranges stay logged).
    The oldest logged instant is recorded as rewritten (queries.RECORD_REWRITE) as the log entries go."""
    if conn.is_in_transaction():
        # app/retention refreshes inside its transaction: the policies and the worker's refresh keep
        # the aggregates current, and the logged ranges stay pending (and read live) meanwhile.
        log.warning(
            "continuous aggregates cannot be refreshed inside a transaction; left to the next refresh",
            extra={"job": "rollups"},
        )
        return None
    await conn.execute(LOCK)
    try:
        await _follow_zone(conn, timezone_name)
        taken = await conn.fetch(PENDING)
        horizons = {r["raw_table"]: r["dropped_before"] for r in await conn.fetch(HORIZONS)}
        refresh_sql = await _refresh_statement(conn)
        counts = {}
        try:
            for raw_table, (first, second) in LEVELS.items():
                horizon = horizons.get(raw_table) or EPOCH
                ranges = await _logged_ranges(conn, raw_table, taken, horizons.get(raw_table))
                # Raw rows written below a watermark are TimescaleDB's to track: a refresh over the
                # logged ranges re-materialises what changed there. A changed `services` row is not
                # tracked (on_catalog): forced, or restamped below.
                for cagg in (first, *second):
                    zone = timezone_name if cagg.zoned else "UTC"
                    start = horizon if cagg is first else EPOCH
                    force = cagg.on_catalog == "force"
                    await _refresh_view(conn, refresh_sql, cagg, zone, start, target, ranges, horizon, force)
                    if cagg.on_catalog == "restamp":
                        await _restamp(
                            conn, cagg, zone, sorted({r["service_id"] for r in taken if r["raw_table"] == raw_table})
                        )
                counts[raw_table] = len(ranges)
        except asyncpg.LockNotAvailableError as exc:
            # Still busy after the retries: the logged ranges stay pending (read live) for the next run.
            log.warning(
                "rollups: a refresh policy kept the aggregates busy (%s); left to the next refresh",
                exc,
                extra={"job": "rollups"},
            )
            return None
        async with conn.transaction():
            # With the log entries' removal: while a range is logged it is read live; whoever keeps
            # figures derived from the rollups learns of the rewrite in this transaction (sql/270).
            if taken:
                await conn.execute(queries.RECORD_REWRITE, min(r["lo"] for r in taken), target)
            await conn.execute(FORGET, [r["id"] for r in taken])
    finally:
        await conn.execute(UNLOCK)
    return counts


async def _follow_zone(conn: asyncpg.Connection, timezone_name: str) -> None:
    """Recreate the daily aggregates when SLAMON_TIMEZONE changed; the refresh then fills them from
    the first level (exact for every retained slot and minute, also before the retention horizon)."""
    current = await conn.fetchval(DAILY_ZONE)
    if current != timezone_name:
        log.info(
            "rollups: daily continuous aggregates cut in %s, recreating them in %s",
            current,
            timezone_name,
            extra={"job": "rollups"},
        )
        for delay in (*BUSY_RETRIES, None):
            try:
                async with conn.transaction():
                    await conn.execute(DROP_DAILY)
                    await conn.execute(CREATE_DAILY, timezone_name)
                return
            except (asyncpg.LockNotAvailableError, asyncpg.InternalServerError) as exc:
                # A policy job refreshing the old aggregates while they are dropped: "tuple concurrently
                # deleted" (its job rows go with them). Rolled back whole; tried again after it.
                if (
                    delay is None
                    or not isinstance(exc, asyncpg.LockNotAvailableError)
                    and "concurrently" not in str(exc)
                ):
                    raise
                await asyncio.sleep(delay)


async def _restamp(conn: asyncpg.Connection, cagg: Cagg, zone: str, service_ids: list[str]) -> None:
    """RESTAMP the buckets of the services with logged ranges (a late write's are current already:
    the statement finds only rows that applied other values, through the aggregate's index)."""
    if service_ids:
        mat = await conn.fetchval(MATERIALISED_IN, cagg.view)
        await conn.execute(RESTAMP.format(mat=mat), service_ids, cagg.width, zone, cagg.view.removeprefix("cagg_"))


async def _logged_ranges(
    conn: asyncpg.Connection, raw_table: str, taken: list[asyncpg.Record], horizon: datetime | None
) -> list[tuple[datetime, datetime]]:
    """The logged ranges of a raw table, merged across services (a refresh covers every service),
    clipped to [retention horizon, just past the newest raw row)."""
    end = await conn.fetchval(RAW_END[raw_table])
    if end is None:
        return []
    ranges = [
        (max(r["lo"], horizon) if horizon else r["lo"], min(r["hi"], end)) for r in taken if r["raw_table"] == raw_table
    ]
    return merge_intervals([(lo, hi) for lo, hi in ranges if lo < hi])


async def _refresh_view(
    conn: asyncpg.Connection,
    refresh_sql: str,
    cagg: Cagg,
    zone: str,
    start: datetime,
    target: datetime,
    ranges: list[tuple[datetime, datetime]],
    forced_from: datetime,
    force: bool,
) -> None:
    """Advance from `start` to `target` (TimescaleDB re-materialises what it saw change), then refresh
    the logged ranges (`force`: even where TimescaleDB saw no change), widened to whole buckets since a
    refresh rounds its window inwards; never a bucket that starts before `forced_from` (the retention
    horizon: buckets holding dropped raw rows are final, as on the Apache path). Only their part below
    the watermark the aggregate had before the advance, which a refresh policy may have moved past
    `target` (its end offset is shorter than the worker's grace): the rows logged there are read from
    the aggregate once the log entries go. Above it the advance has just materialised every bucket
    from the current rows and catalog (re-forcing them made a first refresh after a load cost twice
    the load's aggregation)."""
    fresh_from = await conn.fetchval(WATERMARK, cagg.view, start) if ranges else None
    if start < target:
        await _call_refresh(conn, refresh_sql, cagg.view, start, target, False)
    for lo, hi in ranges:
        span = await conn.fetchrow(queries.BUCKET_SPAN, cagg.width, lo, hi, zone)
        assert span is not None  # a SELECT of values: always one row
        forced_lo, forced_hi = max(span["lo"], forced_from), min(span["hi"], fresh_from)
        if forced_lo < forced_hi:
            await _call_refresh(conn, refresh_sql, cagg.view, forced_lo, forced_hi, force)


async def _call_refresh(conn: asyncpg.Connection, refresh_sql: str, *args: object) -> None:
    """One refresh, tried again while a policy's refresh of the same aggregate holds it."""
    for delay in (*BUSY_RETRIES, None):
        try:
            await conn.execute(refresh_sql, *args)
            return
        except asyncpg.LockNotAvailableError:
            if delay is None:
                raise
            await asyncio.sleep(delay)
