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
    close_worker_context,
    connect,
    emit,
    floor_minute,
    int_setting,
    load_checks_and_calls,
    log,
    machine,
    median_ms,
    scratch_database,
    server_versions,
    utc_now,
    worker_context,
)

from app.seed import AGENT_ENDPOINTS
from app.services import service as services
from app.slo.definitions import engine, examples, service
from workers.slo_definitions import evaluate_slo_definitions, services_of


def agent_call(rng: random.Random, weights=tuple(w for *_, w in AGENT_ENDPOINTS)) -> tuple[str, str]:
    """An endpoint of the seed's agent API and its method, drawn by the endpoints' weights."""
    method, endpoint, _, _ = rng.choices(AGENT_ENDPOINTS, weights)[0]
    return endpoint, method


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
        checks, calls = await load_checks_and_calls(
            conn, service_ids, start, days, per_day, now, endpoint=agent_call, errors=(404, 429, 500, 504)
        )
        await examples.install(conn)
        versions = await server_versions(conn)
        ctx = await worker_context(url)
        zone = ctx["settings"].zone
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
        await close_worker_context(ctx)
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
