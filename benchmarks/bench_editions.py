"""The rollups on both TimescaleDB editions in one run: the same DAYS days x 50 services of 1-minute
checks written through the ingest module into a scratch database on each server, then
  seed:            the first `refresh` over the whole history (the worker's first run after a load),
  one minute:      one more minute of checks for every service, then `refresh` (p50 of MINUTES runs),
  catalog change:  one service's interval and latency target changed and `invalidate_service` logged, then
                   `refresh` brings every bucket of that service to the new target,
  read:            the daily rollup of every service over the whole range (timed once), which must
                   equal the from-scratch aggregate of the raw rows and the other server's read.
Measured on a connection with the session settings of the app's and the worker's pools (app/db.py
SESSION_SETTINGS: generic plans, no JIT, no parallel workers), as they run these statements; with the
server's defaults a build with JIT (Debian's) compiled the caggs daily read for 0.7 s.
The baseline is the Apache server (SLAMON_DATABASE_URL, rollups as tables); the other server is a
Timescale License build (BENCH_LICENSE_URL, rollups as continuous aggregates, SLAMON_ROLLUP_BACKEND=caggs
whatever VERIFIED_CAGG_RELEASES says). Goal (issue 16): each License figure within 2x of Apache's.

usage: BENCH_LICENSE_URL=postgresql://postgres@127.0.0.1:56432/slamon bench_editions.py [DAYS]
       (env BENCH_EDITIONS_DAYS=10, BENCH_EDITIONS_MINUTES=5)
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import asyncpg

from bench_rollups import load, pinned_end, timed_refresh
from common import (
    MINUTE,
    check_batches,
    emit,
    int_setting,
    log,
    machine,
    median_ms,
    reporting_timezone,
    scratch_database,
    server_url,
    server_versions,
    settle,
)

from app import db
from app.ingest.service import write_checks
from app.rollups import service as rollups

TIMEZONE = reporting_timezone()
GOAL_RATIO = 2.0
# a target the synthetic latencies (median ≈ 150 ms) cross, and a longer interval: both figures move
CHANGE_TARGET = "UPDATE services SET latency_target_ms = 200, interval_s = 2 * interval_s WHERE id = $1"
JOB_ERRORS = (
    "SELECT coalesce(jsonb_object_agg(err_message, n), '{}'::jsonb)::text FROM "
    "(SELECT err_message, count(*) AS n FROM timescaledb_information.job_errors GROUP BY err_message) e"
)


async def connect_as_app(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings={"application_name": "slamon-bench", **db.SESSION_SETTINGS})


async def run(server: str, backend: str, days: int, minutes: int) -> tuple[dict, list[tuple]]:
    end = pinned_end()
    start = end - timedelta(days=days)
    async with scratch_database(f"editions_{backend}", server=server, backend=backend) as (url, service_ids):
        conn = await connect_as_app(url)
        try:
            versions = await server_versions(conn)
            rows, load_s = await load(url, service_ids, start, days * 1440, 50_000, end)
            await settle(conn)
            seed_s = await timed_refresh(conn, end)
            log(f"{backend}: seed refresh {seed_s:.2f}s")
            one_minute = []
            for step in range(minutes):
                slot = end + step * MINUTE
                for batch in check_batches(service_ids, slot, 1, len(service_ids), seed=100 + step):
                    await write_checks(conn, batch, now=slot + MINUTE)
                one_minute.append(await timed_refresh(conn, slot + MINUTE))
            now = end + minutes * MINUTE
            # What a changed interval and latency target do (app/maintenance, `slamon migrate` of services.toml):
            # the row changes and every bucket of the service is logged stale, in one transaction.
            async with conn.transaction():
                await conn.execute(CHANGE_TARGET, service_ids[0])
                await rollups.invalidate_service(conn, service_ids[0])
            started = time.perf_counter()
            await rollups.refresh(conn, TIMEZONE, now, grace=timedelta(0))
            catalog_s = time.perf_counter() - started
            log(f"{backend}: catalog change refresh {catalog_s:.2f}s")
            read_start, read_end = start.replace(hour=0), end + timedelta(days=1)
            started = time.perf_counter()
            daily = await rollups.read(conn, rollups.CHECKS_DAILY, TIMEZONE, service_ids, read_start, read_end)
            read_ms = (time.perf_counter() - started) * 1000
            read = [tuple(r) for r in daily]
            raw = [
                tuple(r)
                for r in await rollups.aggregate_raw(
                    conn, rollups.CHECKS_DAILY, TIMEZONE, service_ids, read_start, read_end
                )
            ]
            uses_caggs = await rollups.uses_caggs(conn)
            job_errors = await conn.fetchval(JOB_ERRORS) if versions["license"] == "timescale" else None
        finally:
            await conn.close()
    figures = {
        "postgres": versions["postgres"],
        "timescaledb": f"{versions['timescaledb']} {versions['license']}",
        "rollups": "caggs" if uses_caggs else "tables",
        "rows": rows,
        "load_s": round(load_s, 1),
        "seed_s": round(seed_s, 2),
        "refresh_one_minute_p50_ms": median_ms(one_minute),
        "catalog_change_s": round(catalog_s, 2),
        "read_buckets": len(read),
        "read_ms": round(read_ms, 1),
        "read_equals_raw": read == raw,
        "job_errors": job_errors,
    }
    return figures, read


async def main() -> None:
    license_url = os.environ.get("BENCH_LICENSE_URL")
    if not license_url:  # `make bench` runs every script; without a License server there is nothing to compare
        log("BENCH_LICENSE_URL not set: no Timescale License server to compare with SLAMON_DATABASE_URL's")
        emit({"bench": "editions", "skipped": "BENCH_LICENSE_URL not set"})
        return
    days = int_setting(1, "BENCH_EDITIONS_DAYS", 10)
    minutes = int(os.environ.get("BENCH_EDITIONS_MINUTES", 5))
    apache, apache_read = await run(server_url(), "tables", days, minutes)
    licensed, license_read = await run(license_url, "caggs", days, minutes)
    ratios = {
        key: round(licensed[key] / apache[key], 2) if apache[key] else None
        for key in ("seed_s", "refresh_one_minute_p50_ms", "catalog_change_s")
    }
    emit(
        {
            "bench": "editions",
            "days": days,
            "services": 50,
            "timezone": TIMEZONE,
            "apache": apache,
            "license": licensed,
            "license_over_apache": ratios,
            "goal_ratio": GOAL_RATIO,
            "same_rows": apache_read == license_read,
            "load_average": os.getloadavg()[0],
            **machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
