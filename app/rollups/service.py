"""Rollup maintenance (Apache edition's incremental refresh) and the one reader per rollup; on a Timescale
License server both go to the continuous aggregates of caggs.py, with the same rows."""

from __future__ import annotations

import logging
import sys
from array import array
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import asyncpg

from app import db
from app.periods import merge_intervals
from app.rollups import caggs, queries
from app.rollups.queries import LevelSql, RollupSql

log = logging.getLogger(__name__)
T = TypeVar("T")

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FAR_PAST = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=timezone.utc)
# The status page keeps the figures of the days before yesterday in memory (app/status/history.py)
# until the 'rollups' generation moves: a refresh moves it when it takes a write older than this
# (yesterday began at least 23 hours ago), or re-cuts the days.
HISTORY_MARGIN = timedelta(hours=12)
# Reading the packed daily figures (sql/085) costs a statement more: it pays from about a month of
# settled days (50 services: a tie at 31 days, 1 ms less at 90; benchmarks/README.md).
PACKS_FROM = timedelta(days=32)


@dataclass(frozen=True)
class Level:
    """One level of a rollup hierarchy that the Apache-edition refresh maintains."""

    sql: LevelSql
    width: timedelta
    reporting_zone: bool  # daily buckets follow SLAMON_TIMEZONE; the others are UTC

    @property
    def name(self) -> str:
        return self.sql.name

    def zone(self, timezone_name: str) -> str:
        return timezone_name if self.reporting_zone else "UTC"


@dataclass(frozen=True)
class Rollup(Level):
    """A level the API reads (read, read_slot_arrays), materialised from the first level below it."""

    sql: RollupSql


SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
# The first levels (sql/200): slots of checks (a slot is its own 1-second bucket), minutes of API calls.
CHECK_SLOTS = Level(queries.CHECK_SLOT_LEVEL, SECOND, reporting_zone=False)
USAGE_MINUTES = Level(queries.USAGE_MINUTE_LEVEL, MINUTE, reporting_zone=False)
CHECKS_HOURLY = Rollup(queries.CHECKS_HOURLY, HOUR, reporting_zone=False)
CHECKS_DAILY = Rollup(queries.CHECKS_DAILY, DAY, reporting_zone=True)
USAGE_DAILY = Rollup(queries.USAGE_DAILY, DAY, reporting_zone=True)
ROLLUPS = (CHECKS_HOURLY, CHECKS_DAILY, USAGE_DAILY)
# Refresh order: every level after the one it is materialised from.
LEVELS: tuple[Level, ...] = (CHECK_SLOTS, CHECKS_HOURLY, CHECKS_DAILY, USAGE_MINUTES, USAGE_DAILY)


@dataclass
class RefreshReport:
    rollup: str
    watermark: datetime | None
    ranges_recomputed: int
    recut: bool = False


# server backend pid -> whether its database keeps the rollups as continuous aggregates (caggs.py).
# The license and the migrations do not change under a live connection; pids are reused only by
# connections to the same server.
_CAGG_BACKENDS: dict[int, bool] = {}


async def uses_caggs(conn: asyncpg.Connection) -> bool:
    """True on a Timescale License server migrated with sql/tsl/: the rollups are continuous
    aggregates there; elsewhere ('apache') they are the tables this module's refresh maintains."""
    pid = conn.get_server_pid()
    known = _CAGG_BACKENDS.get(pid)
    if known is None:
        if len(_CAGG_BACKENDS) > 4096:  # connections come and go over months; the cache stays small
            _CAGG_BACKENDS.clear()
        known = _CAGG_BACKENDS[pid] = await caggs.in_use(conn)
    return known


# A repeatable-read snapshot taken before the daily continuous aggregates were re-created (a change of
# SLAMON_TIMEZONE) cannot read them: TimescaleDB raises this; a new snapshot can.
WATERMARK_GONE = "watermark not defined for continuous aggregate"
SNAPSHOT_ATTEMPTS = 3


async def in_snapshot(conn: asyncpg.Connection, work: Callable[[], Awaitable[T]]) -> T:
    """`work()` in one repeatable-read transaction (one consistent view of raw rows and rollups), run
    again on a new snapshot when the aggregates were re-created under the old one."""
    for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
        try:
            async with conn.transaction(isolation="repeatable_read"):
                return await work()
        except asyncpg.InvalidParameterValueError as exc:
            if attempt == SNAPSHOT_ATTEMPTS or WATERMARK_GONE not in str(exc):
                raise
            log.info("rollups: snapshot older than a re-created aggregate, reading again (%s)", exc)
    raise AssertionError("unreachable")


async def log_invalidations(
    conn: asyncpg.Connection, raw_table: str, spans: dict[str, tuple[datetime, datetime]]
) -> None:
    """Record, per service, the time range a write touched (same transaction as the write)."""
    if not spans:
        return
    ids = list(spans)
    await conn.execute(
        queries.LOG_INVALIDATIONS,
        raw_table,
        ids,
        [spans[s][0] for s in ids],
        [spans[s][1] + timedelta(microseconds=1) for s in ids],
    )


async def invalidate_service(conn: asyncpg.Connection, service_id: str) -> None:
    """Mark every bucket of a service stale, e.g. after its interval or latency target changed."""
    for raw_table in ("checks", "api_calls"):
        await log_invalidations(conn, raw_table, {service_id: (FAR_PAST, FAR_FUTURE)})


async def refresh(
    conn: asyncpg.Connection, timezone_name: str, now: datetime, grace: timedelta = timedelta(minutes=5)
) -> list[RefreshReport]:
    """Materialise every level up to `now - grace` and recompute exactly the invalidated buckets, each
    level from the one below it (LEVELS)."""
    target = (now - grace).replace(second=0, microsecond=0)
    if await uses_caggs(conn):
        ranges = await caggs.refresh(conn, timezone_name, target, HISTORY_MARGIN)
        if ranges is None:
            return [RefreshReport(r.name, None, 0) for r in ROLLUPS]
        return [RefreshReport(r.name, target, ranges[r.sql.raw_table]) for r in ROLLUPS]
    reports = []
    async with conn.transaction():
        await conn.execute(queries.LOCK_REFRESH)
        taken: dict[str, list[asyncpg.Record]] = {}
        for raw_table in ("checks", "api_calls"):
            taken[raw_table] = await conn.fetch(queries.TAKE_INVALIDATIONS, raw_table)
        for level in LEVELS:
            report = await _refresh_one(conn, level, timezone_name, target, taken[level.sql.raw_table])
            if isinstance(level, Rollup):
                reports.append(report)
        old_write = any(inv["lo"] < target - HISTORY_MARGIN for rows in taken.values() for inv in rows)
        if old_write or any(r.recut for r in reports):
            await conn.execute(queries.BUMP_GENERATION, "rollups")
    return reports


async def _refresh_one(
    conn: asyncpg.Connection,
    rollup: Level,
    timezone_name: str,
    target: datetime,
    invalidations: list[asyncpg.Record],
) -> RefreshReport:
    zone = rollup.zone(timezone_name)
    width, sql = rollup.width, rollup.sql
    state = await conn.fetchrow(queries.GET_STATE, rollup.name)
    old = state["watermark"] if state else None
    recut = bool(state and state["timezone"] != zone)
    if recut:
        # Buckets were cut in another zone: start over; reads stay exact (all live) meanwhile.
        log.info("rollup %s: time zone changed %s -> %s, rebuilding", rollup.name, state["timezone"], zone)
        assert isinstance(rollup, Rollup), "only reporting-zone rollups are re-cut"
        await _recut(conn, rollup, state["timezone"], zone)
        old = None
    # Buckets before `frozen` lost raw rows to retention: final, never recomputed.
    frozen = await conn.fetchval(queries.FROZEN_BEFORE[sql.raw_table], width, zone, rollup.name)
    new = max(target, old) if old else target
    # 1. Advance: the rows of the level below (raw rows for a first level) from the old watermark to the
    # new one, added into their buckets (the first time, everything up to the new one is materialised).
    if old is None:
        start = await conn.fetchval(queries.MIN_RAW_TS[sql.raw_table])
        if start is not None and frozen is not None:
            start = max(start, frozen)
        if start is not None and start < new:
            await conn.execute(sql.delete_range, None, start, new, width, zone)
            await conn.execute(sql.materialise_range, None, start, new, width, zone)
    else:
        start = old if frozen is None else max(old, frozen)
        if start < new:
            await conn.execute(sql.accumulate_range, None, start, new, width, zone)
    # 2. Recompute whole, up to the new watermark, the buckets that late or replayed writes below the
    # old watermark touched (their rows are not in step 1's sum): a first level from raw rows, the
    # levels above from it, already recomputed in this transaction (LEVELS' order).
    recomputed = 0
    if old is not None:
        late = [
            (inv["service_id"], lo, min(inv["hi"], new))
            for inv in invalidations
            if (lo := inv["lo"] if frozen is None else max(inv["lo"], frozen)) < old and lo < inv["hi"]
        ]  # the others are in step 1's range, or entirely in final buckets
        if late:
            spans = await conn.fetch(queries.BUCKET_SPANS, *zip(*late, strict=True), width, zone)
            per_service: dict[str, list[tuple[datetime, datetime]]] = {}
            for span in spans:
                per_service.setdefault(span["service_id"], []).append((span["lo"], min(span["hi"], new)))
            ranges = [(s, lo, hi) for s, spans_of in per_service.items() for lo, hi in merge_intervals(spans_of)]
            ids, los, his = (list(column) for column in zip(*ranges, strict=True))
            await conn.execute(sql.delete_ranges, ids, los, his)
            await conn.execute(sql.recompute_ranges, ids, los, his, width, zone)
            recomputed = len(ranges)
    await conn.execute(queries.PUT_STATE, rollup.name, new, zone)
    return RefreshReport(rollup.name, new, recomputed, recut)


async def _recut(conn: asyncpg.Connection, rollup: Rollup, old_zone: str, zone: str) -> None:
    """Drop the buckets cut in the old zone, except the final ones (raw rows gone). The new zone's
    bucket holding the final boundary then gets only the raw rows after it, labelled with their start
    (so it is read as the day they belong to), and is final too."""
    sql, width = rollup.sql, rollup.width
    final = await conn.fetchval(queries.FROZEN_BEFORE[sql.raw_table], width, old_zone, rollup.name)
    if final is None:
        await conn.execute(f"TRUNCATE {sql.table}")
        return
    log.warning(
        "rollup %s: buckets before %s have no raw rows left and keep the zone %s",
        rollup.name,
        final.isoformat(),
        old_zone,
    )
    await conn.execute(sql.delete_range, None, final, FAR_FUTURE, width, old_zone)
    first = await conn.fetchrow(queries.BUCKET_SPAN, width, final, final, zone)
    if first["hi"] > final:
        await conn.execute(sql.merge_partial, None, final, first["hi"], width, zone, first["lo"])
    await conn.execute(queries.SET_FINAL_BEFORE, rollup.name, first["hi"])


async def read(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
    *,
    slots_only: bool = False,
) -> list[asyncpg.Record]:
    """Buckets in [start, end) (bucket-aligned) for the services, exact whatever the refresh lag.
    `slots_only` reads just the slot counts and downtime (queries.SLOT_COLUMNS), for check rollups.
    With nothing pending, the two-statement reader (queries.ReadParts); inside a caller's transaction,
    or with pending ranges, the one-statement reader that merges them."""
    if await uses_caggs(conn):
        return await caggs.read(
            conn, rollup.name, rollup.width, rollup.zone(timezone_name), service_ids, start, end, slots_only=slots_only
        )
    parts = rollup.sql.parts_slots if slots_only else rollup.sql.parts
    sql = rollup.sql.read_slots if slots_only else rollup.sql.read
    if parts is None or sql is None:
        raise ValueError(f"rollup {rollup.name} has no slots-only reader")
    return await _read(
        conn, rollup, (service_ids, start, end, rollup.width, rollup.zone(timezone_name)), parts, parts.read, sql
    )


async def read_slot_arrays(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
) -> list[asyncpg.Record]:
    """`read(..., slots_only=True)` as one row per service: `bucket_epochs` (bucket starts, Unix
    seconds) and a sequence per slot column (a list, or an array.array when read from the packs),
    element i of each for the same bucket, in no set order."""
    if await uses_caggs(conn):
        return _as_arrays(await read(conn, rollup, timezone_name, service_ids, start, end, slots_only=True))
    parts, sql = rollup.sql.parts_slots, rollup.sql.read_slot_arrays
    if parts is None or parts.arrays is None or sql is None:
        raise ValueError(f"rollup {rollup.name} has no slots-only reader")
    args = (service_ids, start, end, rollup.width, rollup.zone(timezone_name))
    if rollup.sql.read_packed is not None and end - start >= PACKS_FROM:
        rows = await _read_packed(conn, rollup, args)
        if rows is not None:
            return rows
    return await _read(conn, rollup, args, parts, parts.arrays, sql)


def _as_arrays(rows: list) -> list[dict]:
    """Bucket rows of the slot columns in read_slot_arrays' form."""
    by_service: dict[str, dict] = {}
    for r in rows:
        arrays = by_service.setdefault(
            r["service_id"],
            {"service_id": r["service_id"], "bucket_epochs": [], **{c: [] for c in queries.SLOT_COLUMNS}},
        )
        arrays["bucket_epochs"].append(int(r["bucket"].timestamp()))
        for c in queries.SLOT_COLUMNS:
            arrays[c].append(r[c])
    return list(by_service.values())


async def _read(
    conn: asyncpg.Connection, rollup: Rollup, args: tuple, parts: queries.ReadParts, fast: str, merging: str
) -> list:
    """`fast` (one of `parts`' readers) when `parts.state` finds nothing pending, else `merging` (the
    one-statement reader)."""
    if not conn.is_in_transaction():
        # The state and the read must see one snapshot: a refresh committing in between would count
        # the rows it materialises twice (or not at all). A plan for the watermark given keeps only the
        # newest raw chunk; the generic plan the pool asks for (db.SESSION_SETTINGS) keeps all of them
        # (3x slower here), hence force_custom_plan for the rest of this transaction, set by the state
        # statement itself (itself generic: replanning it cost more than running it).
        await conn.execute(queries.BEGIN_READ)
        try:
            state = await conn.fetchrow(parts.state, *args, rollup.name)
            if not state["pending"]:
                return await conn.fetch(fast, *args, state["live_since"], state["live_bucket"])
        finally:
            await conn.execute("COMMIT")  # read only; after an error, PostgreSQL rolls back
    return await conn.fetch(merging, *args, rollup.name)


# Per (rollup, zone): the bucket that held the watermark at the last packed read, the time floor of the
# next one (db.with_time_floor). It moves with the watermark, a bucket a day; the statement checks it.
_live_floors: dict[tuple[str, str], datetime | None] = {}


async def _read_packed(conn: asyncpg.Connection, rollup: Rollup, args: tuple) -> list[dict] | None:
    """The arrays of the range (read_slot_arrays) in one statement (queries._packed_read): the buckets
    before the one holding the watermark from the packs, the rest merged with the raw rows past it. None
    while an invalidation is pending in the range (the merging reader serves then). Raw rows are read
    from the floor the last read found; should the state have gone back before it (a rebuild, a recut),
    the read is made again without a floor (every chunk: once, the next read has the new floor)."""
    _, start, end, _, zone = args
    key = (rollup.name, zone)
    floor = _live_floors.get(key)
    rows = await conn.fetch(db.with_time_floor(rollup.sql.read_packed, floor), *args, rollup.name)
    if floor is not None and floor > max(rows[0]["live_since"] or start, start):
        rows = await conn.fetch(db.with_time_floor(rollup.sql.read_packed, None), *args, rollup.name)
    state = rows[0]
    _live_floors[key] = state["live_bucket"]
    if state["pending"]:
        return None
    live_bucket = state["live_bucket"]
    settled_end = end if live_bucket is None else min(end, live_bucket)
    lo, hi = start.timestamp(), settled_end.timestamp()
    arrays: dict[str, dict] = {}
    for r in rows:
        if r["part"] is None:
            continue
        epochs = _unpacked(r["bucket_epochs"], PACKED_TYPES["bucket_epochs"])
        if r["part"] == 0:  # packs: the buckets in [start, settled_end)
            i, j = bisect_left(epochs, lo), bisect_left(epochs, hi)
        else:  # open buckets: all
            i, j = 0, len(epochs)
        if i >= j:  # none in range (a watermark before the range start cuts every pack away)
            continue
        columns = {c: epochs if c == "bucket_epochs" else _unpacked(r[c], t) for c, t in PACKED_TYPES.items()}
        if i > 0 or j < len(epochs):
            columns = {c: values[i:j] for c, values in columns.items()}
        held = arrays.get(r["service_id"])
        if held is None:
            arrays[r["service_id"]] = {"service_id": r["service_id"], **columns}
        else:
            for c, values in columns.items():
                held[c].extend(values)
    return list(arrays.values())


# The packs' binary columns (sql/085, queries.PACK_TYPES) as array.array type codes.
PACKED_TYPES = {c: {"int4": "i", "int8": "q"}[t] for c, t in queries.PACK_TYPES.items()}
_SWAP = sys.byteorder == "little"


def _unpacked(data: bytes, type_code: str) -> array:
    values = array(type_code, data)
    if _SWAP:
        values.byteswap()
    return values


async def aggregate_raw(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
) -> list[asyncpg.Record]:
    """The rollup's SELECT straight over raw rows: the from-scratch reference."""
    return await conn.fetch(
        rollup.sql.aggregate + " ORDER BY 1, 2", service_ids, start, end, rollup.width, rollup.zone(timezone_name)
    )


async def invalidate_range(conn: asyncpg.Connection, start: datetime, end: datetime) -> None:
    """Mark [start, end) stale for every service (`slamon rollups refresh --from --to`)."""
    ids = [r["id"] for r in await conn.fetch(queries.ALL_SERVICE_IDS)]
    for raw_table in ("checks", "api_calls"):
        await log_invalidations(conn, raw_table, {s: (start, end - timedelta(microseconds=1)) for s in ids})
