"""The rollups' one door: refresh, read and the retention boundary, whichever backend keeps them.

A database keeps its rollups one way (levels.Backend): as tables the worker maintains
(app/rollups/tables.py, 'tables', any edition) or as continuous aggregates (app/rollups/caggs.py,
'caggs', chosen at migration on the Timescale License edition). This module picks the backend and
hands every call to it; both give the same rows. To follow a figure: app/sla/ (the maths), this
module (what is read), and the one backend the database uses.

Reads: `read` (rows ordered by service and bucket; every column, or Columns.SLOTS) and `read_arrays`
(the slot columns as one row per service with an array per column: what the day grids want). Both are
exact whatever the refresh lag. `aggregate_raw` is the from-scratch reference the tests compare with.

What a process learns once (which backend the database uses; the backends' own: tables.PackedFloors,
caggs.Known) is kept on the Memory of the pool the app or the worker made (app/db.py): the pool's
connection class carries it and the pool's connection proxies reach it, so call sites pass just the
connection they hold. A connection of no such pool (the CLI's, a test's own) gets a fresh Memory:
correct, only uncached. No module-level state: two pools, or two databases, never share what was learnt.
Why there: every caller already holds a connection and passes it (the API's request handlers, the
worker's jobs, the CLI), so no signature outside this package changed; the pool is made and closed by
its owner (the app's lifespan, the worker's start-up), so what it learnt lives exactly as long; and a
key such as the server pid (the old cache) is not needed: a pool's connections all reach one database.

A refresh records what it rewrote below the watermarks (queries.RECORD_REWRITE, sql/270) in the
transaction of the rewrite; what that means to figures kept elsewhere is decided there (the status
page's settled days: sql/271, app/status/history.py), not here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg

from app import db
from app.rollups import caggs, levels, queries, tables
from app.rollups.levels import Arrays, Ask, Backend, Columns, RefreshReport, Rollup

log = logging.getLogger(__name__)
T = TypeVar("T")

# The hierarchy, for callers: `rollups.read(conn, rollups.CHECKS_DAILY, ...)`.
FAR_PAST, FAR_FUTURE = levels.FAR_PAST, levels.FAR_FUTURE
CHECKS_HOURLY, CHECKS_DAILY, USAGE_DAILY = levels.CHECKS_HOURLY, levels.CHECKS_DAILY, levels.USAGE_DAILY
ROLLUPS = levels.ROLLUPS
ALL, SLOTS = Columns.ALL, Columns.SLOTS

TABLES = tables.Tables()
CAGGS = caggs.Caggs()


@dataclass
class Known:
    """Per process (db.Memory): the backend of the pool's database. The license and the migrations do
    not change under a serving pool (`slamon migrate` runs before it serves)."""

    backend: Backend | None = None


async def backend(conn: asyncpg.Connection) -> Backend:
    """The backend that keeps this database's rollups: 'caggs' on a Timescale License server migrated
    with sql/tsl/, else 'tables'."""
    known = db.memory(conn).of(Known)
    if known.backend is None:
        known.backend = CAGGS if await caggs.in_use(conn) else TABLES
    return known.backend


async def uses_caggs(conn: asyncpg.Connection) -> bool:
    return (await backend(conn)).name == CAGGS.name


async def refresh(
    conn: asyncpg.Connection, timezone_name: str, now: datetime, grace: timedelta = timedelta(minutes=5)
) -> list[RefreshReport]:
    """Materialise every level up to `now - grace` and recompute exactly the invalidated buckets, each
    level from the one below it."""
    target = (now - grace).replace(second=0, microsecond=0)
    return await (await backend(conn)).refresh(conn, timezone_name, target)


async def read(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
    *,
    columns: Columns = Columns.ALL,
) -> list[asyncpg.Record]:
    """Buckets in [start, end) (bucket-aligned) for the services (None: all), ordered by service and
    bucket, exact whatever the refresh lag."""
    ask = Ask(rollup, rollup.zone(timezone_name), service_ids, start, end)
    return await (await backend(conn)).read(conn, ask, columns)


async def read_arrays(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
) -> Arrays:
    """`read(..., columns=SLOTS)` as one row per service: `bucket_epochs` (bucket starts, Unix
    seconds) and a sequence per slot column (a list or an array.array), element i of each for the same
    bucket, in no set order."""
    ask = Ask(rollup, rollup.zone(timezone_name), service_ids, start, end)
    return await (await backend(conn)).read_arrays(conn, ask)


async def aggregate_raw(
    conn: asyncpg.Connection,
    rollup: Rollup,
    timezone_name: str,
    service_ids: list[str] | None,
    start: datetime,
    end: datetime,
) -> list[asyncpg.Record]:
    """The rollup's SELECT straight over raw rows: the from-scratch reference."""
    ask = Ask(rollup, rollup.zone(timezone_name), service_ids, start, end)
    return await conn.fetch(rollup.sql.aggregate + " ORDER BY 1, 2", *ask.args)


@asynccontextmanager
async def retention_boundary(
    conn: asyncpg.Connection, timezone_name: str, now: datetime, grace: timedelta
) -> AsyncIterator[None]:
    """A transaction in which raw rows up to `now - grace` may be dropped: every bucket over them is
    materialised first and no invalidation of them is pending (the 'tables' backend's refresh runs in
    it and holds the refresh lock until commit; continuous aggregates are refreshed just before it)."""
    in_transaction = (await backend(conn)).refreshes_in_transaction
    if not in_transaction:
        await refresh(conn, timezone_name, now, grace=grace)
    async with conn.transaction():
        if in_transaction:
            await refresh(conn, timezone_name, now, grace=grace)
        yield


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


async def invalidate_range(conn: asyncpg.Connection, start: datetime, end: datetime) -> None:
    """Mark [start, end) stale for every service (`slamon rollups refresh --from --to`)."""
    ids = [r["id"] for r in await conn.fetch(queries.ALL_SERVICE_IDS)]
    for raw_table in ("checks", "api_calls"):
        await log_invalidations(conn, raw_table, {s: (start, end - timedelta(microseconds=1)) for s in ids})
