"""The worker's refresh after one new minute of checks, early and late in the day (Apache edition's
rollup tables), for several catalog sizes: does its cost follow the new rows or the size of the
open day?

For each size: one day of 1-minute checks for N services up to 23:55 UTC (plus the day before),
written through the ingest module and refreshed; then, ten times, one more minute is written and
`rollups.refresh` timed (at 23:55). The day is then completed past midnight and the same is timed at
00:05. After each point's refreshes, in the same run and on the same data, the baseline: what the
refresh did before it added new rows into their buckets, re-aggregating the whole open daily and
hourly buckets from raw rows (delete + materialise of the open bucket, timed inside a rolled-back
transaction). The connection has the worker's session settings (db.SESSION_SETTINGS).

Then a late batch: one more region reports the 12:00 minute of the day just ended for every service (as a
prober's journal replayed after an outage would), and the refresh that recomputes it is timed, ten
times (a new minute each). Its baseline, after them, in the same rolled-back way: what the refresh did before the
rollups had first levels (sql/200), recomputing the hour and the day holding the late minute from raw
rows.

usage: bench_refresh_day.py [SIZES]   (comma-separated service counts; default 50,500,2000;
       env BENCH_REFRESH_RUNS=10 refreshes per point; BENCH_KEEP_DB=1 keeps the loaded state, refreshed to
       23:55, in a database named after the size and the day (bench_refresh_day_N_loaded_YYYYMMDD) and
       measures on a copy of it, so that the next run of the same day skips the load; drop it by hand)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import asyncpg

from common import (
    MINUTE,
    bench_services,
    check_batches,
    connect,
    emit,
    log,
    machine,
    millis,
    rate,
    scratch_database,
    server_url,
    server_versions,
)

from app import db
from app.ingest.service import write_checks
from app.rollups import service as rollups
from app.services.service import sync_catalog

NO_GRACE = timedelta(0)
ZONE = "UTC"


def day_start() -> datetime:
    """Two days ago, midnight UTC: a whole day of history before the measured one."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2)


async def write_minutes(conn, service_ids: list[str], start: datetime, minutes: int) -> int:
    written = 0
    for batch in check_batches(service_ids, start, minutes, 50_000, seed=int(start.timestamp()) % 1000):
        written += (await write_checks(conn, batch, now=start + minutes * MINUTE)).accepted
    return written


async def from_raw_s(conn, start: datetime, new: datetime) -> float:
    """The hourly and daily check buckets from the one holding `start` to `new` deleted and aggregated
    again from raw rows, as before the rollups had first levels (rolled back). Seconds."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        started = time.perf_counter()
        for rollup in (rollups.CHECKS_HOURLY, rollups.CHECKS_DAILY):
            sql = rollup.sql
            bucket = await conn.fetchval(
                "SELECT time_bucket($1::interval, $2::timestamptz, $3::text)", rollup.width, start, ZONE
            )
            columns = ", ".join(("service_id", "bucket") + sql.columns)
            await conn.execute(sql.delete_range, None, bucket, new, rollup.width, ZONE)
            await conn.execute(
                f"INSERT INTO {sql.table} ({columns}) {sql.aggregate}", None, bucket, new, rollup.width, ZONE
            )
        return time.perf_counter() - started
    finally:
        await transaction.rollback()


async def measure_at(conn, service_ids: list[str], at: datetime, runs: int) -> tuple[list[float], list[float]]:
    """`runs` times: one new minute at `at` + i, then the refresh timed; then, `runs` times, the
    baseline's advance over the last minute (rolled back). Seconds. The baseline reads the whole open
    day of raw rows (1.5 GB at 10,000 services at 23:55): run between the refreshes, it evicted their
    working set from shared_buffers (benchmarks/README.md, session 12); BENCH_INTERLEAVED=1 runs it
    before each refresh as sessions 8-11 did."""
    new_s, old_s = [], []
    interleaved = bool(os.environ.get("BENCH_INTERLEAVED"))
    for step in range(runs):
        minute = at + step * MINUTE
        await write_minutes(conn, service_ids, minute, 1)
        if interleaved:
            old_s.append(await from_raw_s(conn, minute, minute + MINUTE))
        started = time.perf_counter()
        await rollups.refresh(conn, ZONE, minute + MINUTE, grace=NO_GRACE)
        new_s.append(time.perf_counter() - started)
    last = at + (runs - 1) * MINUTE
    while len(old_s) < runs:
        old_s.append(await from_raw_s(conn, last, last + MINUTE))
    return new_s, old_s


async def measure_late(conn, service_ids: list[str], late: datetime, at: datetime, runs: int) -> tuple[list, list]:
    """`runs` times: a late region's checks of the minute `late` for every service, plus one new minute
    at `at` + i, then the refresh timed; then, `runs` times, the baseline recomputing late's hour and day
    from raw rows (rolled back; before each refresh with BENCH_INTERLEAVED, as measure_at)."""
    new_s, old_s = [], []
    interleaved = bool(os.environ.get("BENCH_INTERLEAVED"))
    for step in range(runs):
        minute = at + step * MINUTE
        region = f"late-{step}"
        for batch in check_batches(service_ids, late, 1, 50_000, regions=(region,), seed=step):
            await write_checks(conn, batch, now=minute + MINUTE)
        await write_minutes(conn, service_ids, minute, 1)
        if interleaved:
            old_s.append(await from_raw_s(conn, late, minute + MINUTE))
        started = time.perf_counter()
        await rollups.refresh(conn, ZONE, minute + MINUTE, grace=NO_GRACE)
        new_s.append(time.perf_counter() - started)
    end = at + runs * MINUTE
    while len(old_s) < runs:
        old_s.append(await from_raw_s(conn, late, end))
    return new_s, old_s


def ms(samples: list[float]) -> float:
    return millis(statistics.median(samples))


async def load(url: str, service_ids: list[str], start: datetime, late: datetime) -> None:
    """The day before and the measured day up to `late` for every service, refreshed up to `late`."""
    conn = await connect(url)
    try:
        loaded = time.perf_counter()
        rows = await write_minutes(conn, service_ids, start, int((late - start) / MINUTE))
        log(f"{len(service_ids)} services: loaded {rows} rows ({rate(rows, time.perf_counter() - loaded)} rows/s)")
        await conn.execute("VACUUM ANALYZE")
        await rollups.refresh(conn, ZONE, late, grace=NO_GRACE)
        # As autovacuum would on a running system: the first refresh took (deleted) the load's millions
        # of invalidations (one per service and batch), which every refresh would scan until vacuumed.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def closed(admin: asyncpg.Connection, name: str) -> None:
    """No connection to the database `name` from now on, as a template needs: TimescaleDB's scheduler
    connects to every database that allows connections (this one's is ended)."""
    await admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND backend_type LIKE 'TimescaleDB%'",
        name,
    )


@asynccontextmanager
async def loaded_database(count: int, start: datetime, late: datetime) -> AsyncIterator[tuple[str, list[str]]]:
    """(url, service ids) of a database loaded and refreshed up to `late` (load): a scratch one, or with
    BENCH_KEEP_DB a copy of the kept one (made first when missing), dropped after."""
    if not os.environ.get("BENCH_KEEP_DB"):
        async with scratch_database(f"refresh_day_{count}", service_count=count) as (url, service_ids):
            await load(url, service_ids, start, late)
            yield url, service_ids
        return
    server = server_url()
    base = server.rpartition("/")[0]
    kept, name = f"bench_refresh_day_{count}_loaded_{start:%Y%m%d}", f"bench_refresh_day_{count}_{os.getpid()}"
    service_ids = [s.id for s in bench_services(count)]
    admin = await asyncpg.connect(server)
    try:
        if not await admin.fetchval("SELECT true FROM pg_database WHERE datname = $1", kept):
            await admin.execute(f'CREATE DATABASE "{kept}_part"')
            conn = await connect(f"{base}/{kept}_part")
            try:
                await db.migrate(conn)
                await sync_catalog(conn, bench_services(count))
            finally:
                await conn.close()
            await load(f"{base}/{kept}_part", service_ids, start, late)
            await closed(admin, f"{kept}_part")
            await admin.execute(f'ALTER DATABASE "{kept}_part" RENAME TO "{kept}"')
            log(f"kept the loaded state as database {kept}")
        copying = time.perf_counter()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{kept}" STRATEGY FILE_COPY')
        log(f"copied {kept} in {time.perf_counter() - copying:.1f}s")
        try:
            conn = await connect(f"{base}/{name}")
            try:
                await db.migrate(conn)  # the migrations added since the copy was kept
            finally:
                await conn.close()
            yield f"{base}/{name}", service_ids
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def one_size(count: int, runs: int) -> dict:
    start = day_start()
    late = start + timedelta(days=1, hours=23, minutes=55)
    async with loaded_database(count, start, late) as (url, service_ids):
        # the worker's session settings (db.SESSION_SETTINGS: generic plans, no parallel workers)
        conn = await asyncpg.connect(url, server_settings={**db.SESSION_SETTINGS, "application_name": "slamon-bench"})
        try:
            versions = await server_versions(conn)
            late_new, late_old = await measure_at(conn, service_ids, late, runs)
            early = late + timedelta(minutes=10)
            await write_minutes(conn, service_ids, late + runs * MINUTE, int((early - late) / MINUTE) - runs)
            await rollups.refresh(conn, ZONE, early, grace=NO_GRACE)
            early_new, early_old = await measure_at(conn, service_ids, early, runs)
            noon = (early - timedelta(hours=12)).replace(minute=0)  # the day that just ended
            late_write_new, late_write_old = await measure_late(conn, service_ids, noon, early + runs * MINUTE, runs)
        finally:
            await conn.close()
    result = {
        "services": count,
        "runs": runs,
        "refresh_2355_p50_ms": ms(late_new),
        "refresh_0005_p50_ms": ms(early_new),
        "ratio_2355_to_0005": round(statistics.median(late_new) / statistics.median(early_new), 2),
        "baseline_advance_2355_p50_ms": ms(late_old),
        "baseline_advance_0005_p50_ms": ms(early_old),
        "late_minute_refresh_p50_ms": ms(late_write_new),
        "baseline_late_minute_from_raw_p50_ms": ms(late_write_old),
        "postgres": versions["postgres"],
        "timescaledb": f"{versions['timescaledb']} {versions['license']}",
    }
    log(str(result))
    return result


async def main() -> None:
    sizes = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "50,500,2000").split(",")]
    runs = int(os.environ.get("BENCH_REFRESH_RUNS", 10))
    results = [await one_size(count, runs) for count in sizes]
    emit({"bench": "refresh_day", "zone": ZONE, "sizes": results, **machine()})


if __name__ == "__main__":
    asyncio.run(main())
