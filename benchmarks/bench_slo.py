"""SLO work for 50 services: the every-minute SLO evaluation (violations + the figures announced as
sla-metrics-updated), the every-minute detection sweep, and GET /api/slo/{id}; each rollup-backed
and, as the baseline in the same run, with the rollups emptied (month-to-date availability then
aggregated from every raw slot, what a design without rollups pays).
usage: python benchmarks/bench_slo.py [days=20] [calls_per_day=500] [runs=5]"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

from common import (
    APACHE_ROLLUP_TABLES,
    close_worker_context,
    connect,
    emit,
    floor_minute,
    int_setting,
    load_checks_and_calls,
    log,
    machine,
    median_ms,
    percentile_ms,
    scratch_database,
    server_versions,
    utc_now,
    worker_context,
)

from app.main import create_app
from workers.detection import detect_all
from workers.slo import evaluate_slos


async def timed_job(job, ctx, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await job(ctx)
        samples.append(time.perf_counter() - t)
    return {"p50_ms": median_ms(samples), "max_ms": percentile_ms(samples, 100)}


async def timed_get(client, url: str, runs: int) -> dict:
    (await client.get(url)).raise_for_status()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        (await client.get(url)).raise_for_status()
        samples.append(time.perf_counter() - t)
    return {"p50_ms": median_ms(samples), "p95_ms": percentile_ms(samples, 95)}


async def measure(ctx, client, service_id: str, runs: int) -> dict:
    return {
        "evaluate_slos": await timed_job(evaluate_slos, ctx, runs),
        "detect_all": await timed_job(detect_all, ctx, runs),
        "get_slo": await timed_get(client, f"/api/slo/{service_id}", runs * 4),
    }


async def main() -> None:
    days = int_setting(1, "BENCH_SLO_DAYS", 20)
    per_day = int_setting(2, "BENCH_SLO_CALLS_PER_DAY", 500)
    runs = int_setting(3, "BENCH_SLO_RUNS", 5)
    async with scratch_database("slo") as (url, service_ids):
        now = utc_now()
        start = floor_minute(now) - timedelta(days=days)
        conn = await connect(url)
        checks, calls = await load_checks_and_calls(conn, service_ids, start, days, per_day, now)
        versions = await server_versions(conn)
        ctx = await worker_context(url)
        app = create_app(ctx["settings"])
        app.state.pool = ctx["pool"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            with_rollups = await measure(ctx, client, service_ids[0], runs)
            log("rollup-backed figures measured; emptying the rollups for the raw-scan baseline")
            await conn.execute(f"TRUNCATE {', '.join(APACHE_ROLLUP_TABLES)}")
            raw_scan = await measure(ctx, client, service_ids[0], max(2, runs // 2))
        await close_worker_context(ctx)
        await conn.close()
    emit(
        {
            "bench": "slo",
            "services": len(service_ids),
            "days": days,
            "checks": checks,
            "api_calls": calls,
            "rollups": with_rollups,
            "raw_scan": raw_scan,
            "cron_period_ms": 60_000,
            "machine": machine(),
            "server": versions,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
