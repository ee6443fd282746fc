"""Read API latency: GET /api/system-status for 50 services x 90 days and a monthly
/api/sla/availability, rollup-backed vs a raw-scan baseline in the same run.

The baseline is the same endpoint with the rollups emptied: the reader then aggregates every raw
row of the range live, which is what a design without rollups has to do. The status is measured
twice: as served (the settled days of the grid in memory, app/status/history.py) and with a
generation moved before every request, as after an incident write (all 90 days read and judged).
Server time (common.ServerTime: the app runs in-process behind httpx's ASGI transport, timed from
its call to the last body chunk it sends), with the client's wall time next to it.
usage: python benchmarks/bench_reads.py [days=90] [runs=40]"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

from common import (
    APACHE_ROLLUP_TABLES,
    ServerTime,
    connect,
    emit,
    floor_minute,
    int_setting,
    load_minute_checks,
    log,
    machine,
    median_ms,
    percentile_ms,
    pin_clock,
    rate,
    scratch_database,
    server_versions,
    settle,
    utc_now,
)

from app.config import Settings
from app.db import create_pool
from app.main import create_app
from app.realtime.publisher import tune_gc_for_fan_out
from app.rollups import service as rollups


async def forget_settled_days(conn) -> None:
    """Move a generation number (sql/060) as any incident write would: the next status request reads
    and judges all 90 days again instead of taking the settled ones from memory."""
    await conn.execute("UPDATE data_generations SET generation = generation + 1 WHERE name = 'incidents'")


async def timed(client: httpx.AsyncClient, server: ServerTime, url: str, runs: int, before=None) -> dict:
    """Server time (common.ServerTime) of `runs` GETs, and the client's wall time next to it;
    `before()`, if given, runs ahead of each one, outside the timing."""
    samples, client_samples = [], []
    for _ in range(3):
        (await client.get(url)).raise_for_status()  # warm the plan cache
    started = time.perf_counter()
    for _ in range(runs):
        if before is not None:
            await before()
        t = time.perf_counter()
        response = await client.get(url)
        client_samples.append(time.perf_counter() - t)
        samples.append(server.last)
        response.raise_for_status()
    return {
        "p50_ms": median_ms(samples),
        "p95_ms": percentile_ms(samples, 95),
        "p99_ms": percentile_ms(samples, 99),
        "req_per_s": rate(runs, time.perf_counter() - started),
        "client_p50_ms": median_ms(client_samples),
    }


async def main() -> None:
    days = int_setting(1, "BENCH_DAYS", 90)
    runs = int_setting(2, "BENCH_RUNS", 40)
    async with scratch_database("reads") as (url, service_ids):
        now = utc_now()
        start = floor_minute(now) - timedelta(days=days)
        conn = await connect(url)
        loaded, t = 0, time.perf_counter()
        loaded += await load_minute_checks(conn, service_ids, start, days, now)
        load_s = time.perf_counter() - t
        log(f"loaded {loaded} checks in {load_s:.1f}s")
        await rollups.refresh(conn, "UTC", now)
        await settle(conn)
        versions = await server_versions(conn)

        settings = Settings(database_url=url)
        app = create_app(settings)
        app.state.pool = await create_pool(settings)  # as deployed: SLAMON_POOL_MIN, SLAMON_POOL_MAX
        tune_gc_for_fan_out()  # as `slamon api` does before it serves
        pin_clock(now)
        server = ServerTime(app)
        last_month = now.replace(day=1) - timedelta(days=1)
        monthly = (
            f"/api/sla/availability/{service_ids[0]}?period=monthly&year={last_month.year}&month={last_month.month}"
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://bench") as client:
            status_rollup = await timed(client, server, "/api/system-status", runs)
            status_cold = await timed(client, server, "/api/system-status", runs, lambda: forget_settled_days(conn))
            monthly_rollup = await timed(client, server, monthly, runs)
            log("rollup-backed reads measured; emptying the rollups for the raw-scan baseline")
            await conn.execute(f"TRUNCATE {', '.join(APACHE_ROLLUP_TABLES)}")
            # Uncached too: the settled days in memory would hide the raw scan after the first request.
            status_raw = await timed(
                client, server, "/api/system-status", max(5, runs // 8), lambda: forget_settled_days(conn)
            )
            monthly_raw = await timed(client, server, monthly, max(5, runs // 8))
        await app.state.pool.close()
        await conn.close()
    emit(
        {
            "bench": "reads",
            "services": len(service_ids),
            "days": days,
            "checks": loaded,
            "status": {
                "rollups": status_rollup,
                "rollups_all_days_read": status_cold,
                "raw_scan": status_raw,
                "goal_p50_ms": 15,
            },
            "monthly_availability": {"rollups": monthly_rollup, "raw_scan": monthly_raw, "goal_p95_ms": 50},
            "machine": machine(),
            "server": versions,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
