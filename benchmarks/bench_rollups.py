"""Rollups (Apache edition's incremental refresh) over DAYS days x 50 services of 1-minute checks,
all written through the ingest module:
  (b) full rebuild: `refresh` from an empty rollup state over the whole history (load timed apart);
  (a) incremental: write one more minute of checks, then time `refresh` (repeated, p50/max);
  (c) read: `rollups.read` of the daily rollup over the whole range for every service (p50/p99)
      against `rollups.aggregate_raw`, the from-scratch scan of the raw rows, in the same run.

90 days (6.48 M rows) take about 3 minutes on 2 cores, most of it the load and the one raw scan.
The clock is pinned: the history ends at 12:00 UTC yesterday, so the incremental refresh
re-aggregates half a day of the open daily bucket, the same amount on every run.

usage: bench_rollups.py [DAYS [READ_RUNS [RAW_RUNS]]]
       (env BENCH_ROLLUP_DAYS=90, BENCH_ROLLUP_READ_RUNS=50, BENCH_ROLLUP_RAW_RUNS=1,
        BENCH_ROLLUP_MINUTES=10 incremental refreshes, BENCH_ROLLUP_BATCH=50000 rows per write)
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta, timezone

from common import (
    MINUTE,
    check_batches,
    connect,
    emit,
    int_setting,
    log,
    machine,
    median_ms,
    millis,
    percentile_ms,
    rate,
    reporting_timezone,
    scratch_database,
    server_versions,
)

from app.ingest.service import write_checks
from app.rollups import service as rollups

DEFAULT_DAYS = 90
TIMEZONE = reporting_timezone()  # SLAMON_TIMEZONE
NO_GRACE = timedelta(0)


def pinned_end() -> datetime:
    """12:00 UTC yesterday: half a day into the open daily bucket, whatever the wall clock says."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(hours=12)


async def load(url, service_ids, start, minutes, batch_rows, now, writers=2) -> tuple[int, float]:
    """Write the history through write_checks from `writers` connections; (rows, seconds)."""
    batches = check_batches(service_ids, start, minutes, batch_rows)
    written = [0]
    started = time.perf_counter()

    async def writer() -> None:
        conn = await connect(url)
        try:
            for batch in batches:  # a shared generator: each batch goes to whichever writer is free
                result = await write_checks(conn, batch, now=now)
                written[0] += result.accepted  # after the await: `x += await f()` loses updates
                if written[0] % (20 * batch_rows) < batch_rows:
                    log(f"load: {written[0]} rows, {rate(written[0], time.perf_counter() - started)} rows/s")
        finally:
            await conn.close()

    await asyncio.gather(*(writer() for _ in range(writers)))
    return written[0], time.perf_counter() - started


async def timed_refresh(conn, now) -> float:
    started = time.perf_counter()
    await rollups.refresh(conn, TIMEZONE, now, grace=NO_GRACE)
    return time.perf_counter() - started


async def incremental(conn, service_ids, end, minutes) -> list[float]:
    """Write one minute of checks for every service, refresh; `minutes` times. Seconds per refresh."""
    samples = []
    for step in range(minutes):
        slot = end + step * MINUTE
        for batch in check_batches(service_ids, slot, 1, len(service_ids), seed=100 + step):
            await write_checks(conn, batch, now=slot + MINUTE)
        samples.append(await timed_refresh(conn, slot + MINUTE))
    return samples


async def timed_calls(runs, call) -> tuple[list[float], list]:
    """Seconds per call, and the last call's records."""
    samples, records = [], []
    for _ in range(runs):
        started = time.perf_counter()
        records = await call()
        samples.append(time.perf_counter() - started)
    return samples, [tuple(r) for r in records]


async def main() -> None:
    days = int_setting(1, "BENCH_ROLLUP_DAYS", DEFAULT_DAYS)
    read_runs = int_setting(2, "BENCH_ROLLUP_READ_RUNS", 50)
    raw_runs = int_setting(3, "BENCH_ROLLUP_RAW_RUNS", 1)
    refresh_minutes = int(os.environ.get("BENCH_ROLLUP_MINUTES", 10))
    batch_rows = int(os.environ.get("BENCH_ROLLUP_BATCH", 50_000))
    end = pinned_end()
    start = end - timedelta(days=days)
    async with scratch_database("rollups") as (url, service_ids):
        conn = await connect(url)
        try:
            versions = await server_versions(conn)
            rows, load_s = await load(url, service_ids, start, days * 1440, batch_rows, end)
            log(f"loaded {rows} rows in {load_s:.1f}s ({rate(rows, load_s)} rows/s)")
            await conn.execute("VACUUM ANALYZE")

            rebuild_s = await timed_refresh(conn, end)
            log(f"full rebuild: {rebuild_s:.1f}s")
            refresh_s = await incremental(conn, service_ids, end, refresh_minutes)
            log(f"incremental refresh of one minute: p50 {median_ms(refresh_s)} ms")

            # Read the whole history plus the unrefreshed minutes a live system always has.
            live_end = end + refresh_minutes * MINUTE
            for batch in check_batches(service_ids, live_end, 5, 5 * len(service_ids), seed=999):
                await write_checks(conn, batch, now=live_end + 5 * MINUTE)
            read_start, read_end = start.replace(hour=0), end + timedelta(days=1)
            read_s, read_records = await timed_calls(
                read_runs, lambda: rollups.read(conn, rollups.CHECKS_DAILY, TIMEZONE, service_ids, read_start, read_end)
            )
            log(f"read: p50 {median_ms(read_s)} ms, {len(read_records)} buckets")
            raw_s, raw_records = await timed_calls(
                raw_runs,
                lambda: rollups.aggregate_raw(conn, rollups.CHECKS_DAILY, TIMEZONE, service_ids, read_start, read_end),
            )
            log(f"aggregate_raw: p50 {median_ms(raw_s)} ms, {len(raw_records)} buckets")
        finally:
            await conn.close()

    emit(
        {
            "bench": "rollups",
            "days": days,
            "services": len(service_ids),
            "rows": rows,
            "timezone": TIMEZONE,
            "load_s": round(load_s, 1),
            "load_rows_per_s": rate(rows, load_s),
            "full_rebuild_s": round(rebuild_s, 2),
            "refresh_one_minute_p50_ms": median_ms(refresh_s),
            "refresh_one_minute_max_ms": millis(max(refresh_s)),
            "refresh_runs": len(refresh_s),
            "read_daily_p50_ms": median_ms(read_s),
            "read_daily_p99_ms": percentile_ms(read_s, 99),
            "read_runs": read_runs,
            "read_buckets": len(read_records),
            "read_equals_raw": read_records == raw_records,
            "aggregate_raw_p50_ms": median_ms(raw_s),
            "aggregate_raw_runs": raw_runs,
            "postgres": versions["postgres"],
            "timescaledb": f"{versions['timescaledb']} {versions['license']}",
            **machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
