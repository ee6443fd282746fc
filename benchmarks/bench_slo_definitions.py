"""SLO definitions for 50 services: the every-minute evaluation of the SLA document's examples
(workers/slo_definitions.py: every definition's alerts, one read per definition for all its services)
and GET /api/slo-definitions/{name}/status for the month's availability (SLO-001) and an endpoint's
P95 (SLO-003); as the baseline in the same run, the same work one service at a time (a statement per
service and definition, what the engine would cost without batching by definition).
usage: python benchmarks/bench_slo_definitions.py [days=7] [calls_per_day=500] [runs=3]"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta

from common import (
    connect,
    emit,
    floor_minute,
    int_setting,
    load_minute_checks,
    log,
    machine,
    median_ms,
    scratch_database,
    server_versions,
    utc_now,
)

from app.config import Settings
from app.db import create_pool
from app.ingest.service import ApiCallRow, write_api_calls
from app.rollups import service as rollups
from app.seed import AGENT_ENDPOINTS
from app.services import service as services
from app.slo.definitions import engine, examples, service
from workers.common import EventPublisher
from workers.slo_definitions import evaluate_slo_definitions, services_of


def call_batches(service_ids, start, days, per_day, batch_rows=50_000, seed=11):
    rng = random.Random(seed)
    weights = [w for *_, w in AGENT_ENDPOINTS]
    batch = []
    for day in range(days):
        for service_id in service_ids:
            for _ in range(per_day):
                method, endpoint, median, _ = rng.choices(AGENT_ENDPOINTS, weights)[0]
                status = 200 if rng.random() > 0.012 else rng.choice((404, 429, 500, 504))
                ts = start + timedelta(days=day, seconds=rng.uniform(0, 86400))
                batch.append(ApiCallRow(ts, service_id, endpoint, method, status, int(rng.lognormvariate(5.0, 0.6))))
                if len(batch) >= batch_rows:
                    yield batch
                    batch = []
    if batch:
        yield batch


async def timed(work, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        await work()
        samples.append(time.perf_counter() - t)
    return median_ms(samples)


async def main() -> None:
    days = int_setting(1, "BENCH_SLODEF_DAYS", 7)
    per_day = int_setting(2, "BENCH_SLODEF_CALLS_PER_DAY", 500)
    runs = int_setting(3, "BENCH_SLODEF_RUNS", 3)
    async with scratch_database("slo_definitions") as (url, service_ids):
        now = utc_now()
        start = floor_minute(now) - timedelta(days=days)
        conn = await connect(url)
        t = time.perf_counter()
        checks = await load_minute_checks(conn, service_ids, start, days, now)
        calls = 0
        for batch in call_batches(service_ids, start, days, per_day):
            calls += (await write_api_calls(conn, batch, now=now)).accepted
        log(f"loaded {checks} checks and {calls} calls in {time.perf_counter() - t:.1f}s")
        await rollups.refresh(conn, "UTC", now)  # as the worker keeps them (every 30 s)
        await examples.install(conn)
        versions = await server_versions(conn)
        settings = Settings(database_url=url)
        pool = await create_pool(settings, min_size=1, max_size=4)
        ctx = {"settings": settings, "pool": pool, "publisher": EventPublisher(settings), "job_try": 1}
        zone = settings.zone
        active = await services.list_active(conn)
        definitions = examples.examples()

        async def evaluate_one_by_one() -> None:
            for definition in definitions:
                for sid in services_of(definition, active):
                    await engine.evaluate(conn, definition, [sid], now, zone)

        by_name = {d.name: d for d in definitions}
        statuses = {}
        for name in ("slo-001-availability", "slo-003-list-agents"):
            definition = by_name[name]
            ids = services_of(definition, active)

            async def batched(definition=definition) -> None:
                await service.status(conn, definition, now, zone)

            async def one_by_one(definition=definition, ids=ids) -> None:
                for sid in ids:
                    await engine.figures(conn, definition, [sid], now, zone)

            statuses[name] = {
                "batched_ms": await timed(batched, runs),
                "per_service_baseline_ms": await timed(one_by_one, max(1, runs // 2)),
            }
            log(f"{name}: {statuses[name]}")
        sweep = {
            "batched_ms": await timed(lambda: evaluate_slo_definitions(ctx), runs),
            "per_service_baseline_ms": await timed(evaluate_one_by_one, max(1, runs // 2)),
        }
        log(f"evaluate_slo_definitions: {sweep}")
        await ctx["publisher"].close()
        await pool.close()
        await conn.close()
    emit(
        {
            "bench": "slo_definitions",
            "services": len(service_ids),
            "definitions": len(definitions),
            "days": days,
            "checks": checks,
            "api_calls": calls,
            "evaluate_slo_definitions": sweep,
            "status": statuses,
            "cron_period_ms": 60_000,
            "machine": machine(),
            "server": versions,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
