"""The packed daily read (app/rollups/tables.py, queries.PackedSql) with its raw-row bound as a named
statement: the `recent` form (`now() - interval '1 day'`, applied when the generic plan is made) next
to, in the same run on the same data, the form it replaced (the bucket of the watermark written into
the statement's text as a literal, db.with_time_floor until session 10) and the form without a bound
(`whole`, the fallback when the watermark is older than a day).

N services with a check every 10 minutes for D days up to now (daily chunks of `checks`, as deployed),
refreshed to five minutes ago; then each statement run R times on a connection with the pool's session
settings (db.SESSION_SETTINGS: generic plans), as the status grid reads 90 days. Server round trip
timed. usage: bench_packed_read.py [services=50] [days=90] [runs=200]
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import timedelta

import asyncpg

from common import emit, int_setting, log, machine, millis, scratch_database, server_versions, utc_now

from app import db
from app.ingest.service import CheckRow, write_checks
from app.rollups import queries
from app.rollups import service as rollups

EVERY_MINUTES = 10


async def timed_ms(conn: asyncpg.Connection, sql: str, args: tuple, runs: int) -> dict:
    for _ in range(5):  # prepared, planned, cached
        await conn.fetch(sql, *args)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await conn.fetch(sql, *args)
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {"p50_ms": millis(statistics.median(samples)), "p95_ms": millis(samples[int(len(samples) * 0.95) - 1])}


async def main() -> None:
    count = int_setting(1, "BENCH_SERVICES", 50)
    days = int_setting(2, "BENCH_DAYS", 90)
    runs = int_setting(3, "BENCH_RUNS", 200)
    async with scratch_database("packed_read", service_count=count) as (url, service_ids):
        now = utc_now().replace(second=0, microsecond=0)
        start = now - timedelta(days=days)
        conn = await asyncpg.connect(url, server_settings=db.SESSION_SETTINGS)
        try:
            written = 0
            for day in range(days):
                rows = [
                    CheckRow(ts, sid, "default", step % 97 != 0, 200, 80 + step % 40, None if step % 97 else "timeout")
                    for step in range(24 * 60 // EVERY_MINUTES)
                    if (ts := start + timedelta(days=day, minutes=step * EVERY_MINUTES)) < now
                    for sid in service_ids
                ]
                written += (await write_checks(conn, rows, now=now)).accepted
            log(f"loaded {written} checks")
            await rollups.refresh(conn, "UTC", now)
            await conn.execute("VACUUM ANALYZE")
            versions = await server_versions(conn)
            rollup = rollups.CHECKS_DAILY
            packed = rollup.sql.packed
            assert packed is not None
            args = (None, start, now + timedelta(days=1), rollup.width, "UTC", rollup.name)
            state = (await conn.fetch(packed.whole, *args))[0]
            literal = f"'{state['live_bucket'].isoformat()}'::timestamptz"
            replaced = queries._packed_read(rollup.sql.table, rollup.sql.raw_table, queries.CHECKS_BUCKETS, literal)
            recent_rows = await conn.fetch(packed.recent, *args)
            assert recent_rows[0]["floor_holds"], "the watermark is more than a day old: nothing to compare"
            chunks = await conn.fetchval(
                "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'checks'"
            )
            result = {
                "recent_named": await timed_ms(conn, packed.recent, args, runs),
                "baseline_literal_floor": await timed_ms(conn, replaced, args, runs),
                "whole_no_floor": await timed_ms(conn, packed.whole, args, runs),
            }
        finally:
            await conn.close()
    emit(
        {
            "bench": "packed_read",
            "services": count,
            "days": days,
            "checks": written,
            "checks_chunks": chunks,
            "runs": runs,
            **result,
            **versions,
            **machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
