"""Status page server time: GET / of the status site for 50 services x 90 days of minute checks
(6.48 M rows, rollups refreshed) with 30 incidents, against the baseline GET /api/system-status of the
same app and data (the JSON the page's figures come from). The page is measured as served (settled
days of the grid in memory) and with them forgotten before every request (as after an incident
write: all 90 days read, judged and formatted). Server time only: the app runs in-process
behind httpx's ASGI transport (no network, no browser). Also the template rendering alone and the
page's size.
usage: python benchmarks/bench_pages.py [days=90] [runs=30]"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import httpx

from bench_reads import forget_settled_days, timed
from common import (
    load_minute_checks,
    connect,
    emit,
    floor_minute,
    int_setting,
    log,
    machine,
    median_ms,
    percentile_ms,
    pin_clock,
    ServerTime,
    scratch_database,
    server_versions,
    settle,
    utc_now,
)

from app.config import Settings
from app.db import create_pool
from app.incidents import queries as incident_queries
from app.main import create_app
from app.realtime.publisher import tune_gc_for_fan_out
from app.rollups import service as rollups
from app.web.status import service as page_service
from app.web.status.views import DAY_CODES, PAST_PAGES, script_texts
from app.web.templating import environment, translator

INCIDENTS = 30


async def add_incidents(conn, service_ids: list[str], now) -> None:
    for i in range(INCIDENTS):
        created = now - timedelta(days=i * 3 % 89, hours=i % 24)
        resolved = None if i < 2 else created + timedelta(minutes=30 + i)
        incident_id = await conn.fetchval(
            incident_queries.INSERT_AT,
            f"Incident {i}",
            "slow responses",
            "resolved" if resolved else "investigating",
            "high",
            ("P1", "P2", "P3")[i % 3],
            "monitoring system",
            "3 consecutive responses over 7 s",
            [service_ids[i % len(service_ids)]],
            None,
            created,
            resolved,
        )
        for step, status in enumerate(("investigating", "identified", "resolved") if resolved else ("investigating",)):
            await conn.execute(
                incident_queries.INSERT_UPDATE_AT,
                incident_id,
                status,
                f"update {step}",
                "ops",
                created + timedelta(minutes=10 * step),
            )


async def render_only(conn, settings: Settings, now, runs: int) -> dict:
    """Template rendering of the page data alone, without the reads."""
    data = await page_service.page(conn, now, settings.timezone, settings.zone)
    texts = script_texts("ko")
    template = environment().get_template("status/index.html")
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        template.render(
            request=None,
            lang="ko",
            t=translator("ko"),
            site="status",
            languages=("ko", "en"),
            lang_url=lambda code: "/",
            data=data,
            past_pages=PAST_PAGES,
            day_codes=DAY_CODES,
            script_texts=texts,
            grid_html=page_service.grid_html,
            grid_summary=lambda bars: page_service.grid_summary(bars, texts["day"]),
        )
        samples.append(time.perf_counter() - t)
    return {"p50_ms": median_ms(samples), "p95_ms": percentile_ms(samples, 95)}


async def main() -> None:
    days = int_setting(1, "BENCH_DAYS", 90)
    runs = int_setting(2, "BENCH_RUNS", 30)
    async with scratch_database("pages") as (url, service_ids):
        now = utc_now()
        start = floor_minute(now) - timedelta(days=days)
        conn = await connect(url)
        loaded, t = 0, time.perf_counter()
        loaded += await load_minute_checks(conn, service_ids, start, days, now)
        log(f"loaded {loaded} checks in {time.perf_counter() - t:.1f}s")
        await add_incidents(conn, service_ids, now)
        await rollups.refresh(conn, "UTC", now)
        await settle(conn)
        versions = await server_versions(conn)

        settings = Settings(database_url=url)
        app = create_app(settings, site="status")
        app.state.pool = await create_pool(settings)  # as deployed: SLAMON_POOL_MIN, SLAMON_POOL_MAX
        tune_gc_for_fan_out()  # as `slamon api` does before it serves
        pin_clock(now)
        server = ServerTime(app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://bench") as client:
            page = await timed(client, server, "/", runs)
            page_cold = await timed(client, server, "/", runs, lambda: forget_settled_days(conn))
            log("status page measured; now the API baseline")
            api = await timed(client, server, "/api/system-status", runs)
            page["bytes"] = len((await client.get("/")).content)
            api["bytes"] = len((await client.get("/api/system-status")).content)
        templates = await render_only(conn, settings, now, runs)
        await app.state.pool.close()
        await conn.close()
    emit(
        {
            "bench": "pages",
            "services": len(service_ids),
            "days": days,
            "checks": loaded,
            "incidents": INCIDENTS,
            "status_page": page,
            "status_page_all_days_read": page_cold,
            "baseline_api_system_status": api,
            "render_only": templates,
            "page_over_api_p50_ms": round(page["p50_ms"] - api["p50_ms"], 2),
            "goal_p50_ms": 100,
            "machine": machine(),
            "server": versions,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
