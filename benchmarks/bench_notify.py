"""Notification throughput: EVENTS incident events fanned out to SUBSCRIPTIONS webhook subscriptions
(one delivery each), then every delivery sent to a loopback receiver by CONCURRENCY attempts at a time
through the worker's delivery code (claim with lease, sign, POST through the SSRF-guarded client,
record the outcome). Baselines in the same run: the same number of plain aiohttp POSTs to the same
receiver, same concurrency, no database, over kept-alive connections and over a new connection each
(as deliveries do: the SSRF guard checks every connection it opens). Prints ONE JSON line.

    python benchmarks/bench_notify.py [EVENTS [SUBSCRIPTIONS [CONCURRENCY]]]
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timezone

import aiohttp
import asyncpg
from aiohttp import web

from common import emit, int_setting, log, machine, rate, scratch_database  # noqa: I001
from app.config import Settings
from app.notifications import delivery, outbox
from app.notifications.senders import Senders


async def receiver() -> tuple[web.AppRunner, str]:
    async def ok(request):
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"


async def bounded(concurrency: int, jobs) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def run(job):
        async with gate:
            await job()

    started = time.perf_counter()
    await asyncio.gather(*(run(job) for job in jobs))
    return time.perf_counter() - started


async def main() -> None:
    events = int_setting(1, "BENCH_NOTIFY_EVENTS", 100)
    subscriptions = int_setting(2, "BENCH_NOTIFY_SUBSCRIPTIONS", 10)
    concurrency = int_setting(3, "BENCH_NOTIFY_CONCURRENCY", 20)
    runner, url = await receiver()
    async with scratch_database("notify") as (db_url, services):
        settings = Settings(database_url=db_url)
        pool = await asyncpg.create_pool(
            db_url, min_size=2, max_size=concurrency + 2, server_settings={"timezone": "UTC"}
        )
        async with pool.acquire() as conn:
            for n in range(subscriptions):
                await conn.execute(
                    """INSERT INTO subscriptions (name, kind, url, secret, allow_private)
                                      VALUES ($1, 'webhook', $2, 'benchmark secret 0123456789', true)""",
                    f"s{n}",
                    url,
                )
            now = datetime.now(timezone.utc)
            for n in range(events):
                incident = {
                    "id": f"inc-{n}",
                    "title": f"Outage {n}",
                    "status": "investigating",
                    "priority": "P1",
                    "severity": "critical",
                    "affectedServices": [services[n % len(services)]],
                    "description": "",
                    "updates": [],
                    "version": 1,
                    "updatedAt": now.isoformat(),
                }
                await outbox.record(
                    conn,
                    f"bench:{n}",
                    "incident.created",
                    incident["affectedServices"],
                    {"incident": incident, "previousStatus": None},
                    now,
                )
            started = time.perf_counter()
            created = await delivery.dispatch(conn)
            dispatch_s = time.perf_counter() - started
            due = await delivery.due(conn, limit=created)
        log(f"{created} deliveries created in {dispatch_s:.3f} s; sending")
        senders = Senders(settings)
        deliver_s = await bounded(
            concurrency, [(lambda d=d: delivery.deliver(pool, senders, settings, d)) for d, _ in due]
        )
        async with pool.acquire() as conn:
            delivered = await conn.fetchval("SELECT count(*) FROM notification_deliveries WHERE status = 'delivered'")
        body = json.dumps({"event": "incident.created", "data": {"title": "Outage"}}).encode()
        baselines = {}
        for name, force_close in (("keepalive", False), ("new_connection", True)):
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=force_close)) as session:

                async def post():
                    async with session.post(url, data=body) as response:
                        await response.read()

                baselines[name] = rate(created, await bounded(concurrency, [post] * created))
        await senders.close()
        await pool.close()
    await runner.cleanup()
    emit(
        {
            "bench": "notify",
            "events": events,
            "subscriptions": subscriptions,
            "deliveries": created,
            "delivered": delivered,
            "concurrency": concurrency,
            "dispatch_ms": round(dispatch_s * 1000, 1),
            "deliveries_per_s": rate(created, deliver_s),
            "baseline_posts_per_s": baselines["keepalive"],
            "baseline_posts_new_connection_per_s": baselines["new_connection"],
            **machine(),
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
