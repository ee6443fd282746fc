"""The 'tables' backend (levels.Backend): the rollup hierarchy kept in plain tables (sql/004, sql/200,
sql/085) by the worker's refresh, on any TimescaleDB edition; read exactly whatever the refresh lag.

Refresh: level by level in one transaction (levels.LEVELS), each level from the one below; the advance
adds the rows between the old and the new watermark into their buckets, and the buckets that late
writes touched (the invalidation log) are recomputed whole. Read: materialised buckets merged with the
rollup's SELECT over the raw rows past the watermark or in still-pending ranges (queries.ReaderSql).
"""

from __future__ import annotations

import logging
import sys
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app import db
from app.periods import merge_intervals
from app.rollups import queries
from app.rollups.levels import (
    FAR_FUTURE,
    FAR_PAST,
    LEVELS,
    Arrays,
    Ask,
    Columns,
    Level,
    RefreshReport,
    Rollup,
    as_arrays,
)

log = logging.getLogger(__name__)

# Reading the packed daily figures (sql/085) costs a statement more: it pays from about a month of
# settled days (50 services: a tie at 31 days, 1 ms less at 90; benchmarks/README.md).
PACKS_FROM = timedelta(days=32)
# A first fill materialises a level about a day at a time (_fill).
FILL_BATCH = timedelta(days=1)


@dataclass
class PackedFloors:
    """Per process (db.Memory): the (rollup, zone) pairs whose last packed read found the watermark
    older than the recent floor (queries.PackedSql): their next read goes straight to `whole`."""

    missed: set[tuple[str, str]] = field(default_factory=set)


class Tables:
    name = "tables"
    refreshes_in_transaction = True

    async def refresh(self, conn: asyncpg.Connection, timezone_name: str, target: datetime) -> list[RefreshReport]:
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
            if any(r.recut for r in reports):
                await conn.execute(queries.RECORD_REWRITE, FAR_PAST, target)  # every bucket, cut anew
            elif any(taken.values()):
                oldest = min(inv["lo"] for rows in taken.values() for inv in rows)
                await conn.execute(queries.RECORD_REWRITE, oldest, target)
        return reports

    async def read(self, conn: asyncpg.Connection, ask: Ask, columns: Columns) -> list[asyncpg.Record]:
        reader = _reader(ask.rollup, columns)
        rows: list[asyncpg.Record] = await _read(conn, ask, reader, reader.quick)
        return rows

    async def read_arrays(self, conn: asyncpg.Connection, ask: Ask) -> Arrays:
        reader = _reader(ask.rollup, Columns.SLOTS)
        if ask.rollup.sql.packed is not None and ask.end - ask.start >= PACKS_FROM:
            packed = await _read_packed(conn, ask, ask.rollup.sql.packed)
            if packed is not None:
                return packed
        arrays: Arrays = await _read(conn, ask, reader, reader.quick_arrays)
        return arrays


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
    recut = state is not None and state["timezone"] != zone
    if state is not None and recut:
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
            await _fill(conn, sql, start, new, width, zone)
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


async def _fill(
    conn: asyncpg.Connection, sql: queries.LevelSql, start: datetime, end: datetime, width: timedelta, zone: str
) -> None:
    """Materialise [start, end) from the level below, about FILL_BATCH at a time, each batch ending on a
    bucket boundary: a first fill over all history (a new install, the first levels after sql/200, a
    recut) costs many bounded statements rather than one over every chunk. delete_range and
    materialise_range widen a batch's start to its bucket's, so batches add up to the whole range."""
    lo = start
    while lo < end:
        boundary = await conn.fetchval(queries.BUCKET_FLOOR, width, lo + FILL_BATCH, zone)
        hi = min(end, boundary if boundary > lo else lo + FILL_BATCH)
        await conn.execute(sql.delete_range, None, lo, hi, width, zone)
        await conn.execute(sql.materialise_range, None, lo, hi, width, zone)
        lo = hi


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
    assert first is not None  # a SELECT of values: always one row
    if first["hi"] > final:
        await conn.execute(sql.merge_partial, None, final, first["hi"], width, zone, first["lo"])
    await conn.execute(queries.SET_FINAL_BEFORE, rollup.name, first["hi"])


def _reader(rollup: Rollup, columns: Columns) -> queries.ReaderSql:
    reader = rollup.sql.full if columns is Columns.ALL else rollup.sql.slots
    if reader is None:
        raise ValueError(f"rollup {rollup.name} has no slot columns")
    return reader


async def _read(conn: asyncpg.Connection, ask: Ask, reader: queries.ReaderSql, quick: str) -> Any:
    """`quick` (reader.quick or reader.quick_arrays) when reader.state finds nothing pending, else
    reader.merging (as arrays, when `quick` gives them)."""
    if not conn.is_in_transaction():
        # The state and the read must see one snapshot: a refresh committing in between would count
        # the rows it materialises twice (or not at all). A plan for the watermark given keeps only the
        # newest raw chunk; the generic plan the pool asks for (db.SESSION_SETTINGS) keeps all of them
        # (3x slower here), hence force_custom_plan for the rest of this transaction, set by the state
        # statement itself (itself generic: replanning it cost more than running it).
        await conn.execute(queries.BEGIN_READ)
        try:
            state = await conn.fetchrow(reader.state, *ask.args, ask.rollup.name)
            assert state is not None  # a SELECT of values: always one row
            if not state["pending"]:
                return await conn.fetch(quick, *ask.args, state["live_since"], state["live_bucket"])
        finally:
            await conn.execute("COMMIT")  # read only; after an error, PostgreSQL rolls back
    rows = await conn.fetch(reader.merging, *ask.args, ask.rollup.name)
    return as_arrays(rows) if quick is reader.quick_arrays else rows


async def _read_packed(conn: asyncpg.Connection, ask: Ask, packed: queries.PackedSql) -> list[dict[str, Any]] | None:
    """The arrays of the range (read_arrays) in one statement (queries.PackedSql): the buckets before
    the one holding the watermark from the packs, the rest merged with the raw rows past it. None while
    an invalidation is pending in the range (the merging reader serves then)."""
    start, end, key = ask.start, ask.end, (ask.rollup.name, ask.zone)
    missed = db.memory(conn).of(PackedFloors).missed
    rows = await conn.fetch(packed.whole if key in missed else packed.recent, *ask.args, ask.rollup.name)
    if not rows[0]["floor_holds"]:
        rows = await conn.fetch(packed.whole, *ask.args, ask.rollup.name)
    state = rows[0]
    if state["recent_floor_holds"]:
        missed.discard(key)
    else:
        missed.add(key)
    if state["pending"]:
        return None
    live_bucket = state["live_bucket"]
    settled_end = end if live_bucket is None else min(end, live_bucket)
    lo, hi = start.timestamp(), settled_end.timestamp()
    arrays: dict[str, dict[str, Any]] = {}
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


def _unpacked(data: bytes, type_code: str) -> array[int]:
    values = array(type_code, data)
    if _SWAP:
        values.byteswap()
    return values
