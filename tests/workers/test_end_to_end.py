"""Detection end to end: the demo targets (`slamon targets`) with scripted faults, a real prober
storing its results, a real arq worker whose live status (workers/live.py, started as
workers/settings.py starts it) queues and runs `detect_incidents` for stored checks, PostgreSQL. Slots
every 10 s. An outage opens a P1 within 3 slots + 30 s and moves to monitoring after 5 good slots;
flapping (single failed slots between good ones) opens nothing."""

import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest
from arq import func
from arq.connections import RedisSettings
from arq.worker import Worker

from app.demo import targets as demo
from prober.models import Target
from prober.runner import Prober, ProberOptions
from tests.app.test_realtime import free_port
from workers import live
from workers.detection import detect_incidents

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")]
DOWN, FLAPPING = "face-compare", "id-liveness"
INTERVAL_S = 10


async def control(session, base, service_id, mode, seconds):
    async with session.post(f"{base}/{service_id}/control", json={"mode": mode, "seconds": seconds}) as r:
        assert r.status == 200, await r.text()


async def wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


async def test_outage_opens_a_p1_and_flapping_opens_nothing(
    conn, settings, pool, worker_ctx, queue_redis_url, fast_services, tmp_path
):
    await fast_services([DOWN, FLAPPING])
    port = free_port()
    runner = await demo.serve("127.0.0.1", port, demo.DemoTargets(speed=0.05))
    base = f"http://127.0.0.1:{port}"
    targets = [
        Target(
            service_id=s, kind="http", url=f"{base}/{s}/health", interval_s=INTERVAL_S, timeout_s=5, allow_private=True
        )
        for s in (DOWN, FLAPPING)
    ]

    async def source():
        return targets

    prober = Prober(
        ProberOptions(
            region="local",
            prober_id="e2e",
            database_url=settings.database_url,
            redis_url=queue_redis_url,
            data_dir=tmp_path,
            heartbeat_s=1,
            ttl_s=3,
            flush_interval_s=0.2,
        ),
        targets=source,
    )
    worker = Worker(
        functions=[func(detect_incidents, timeout=60)],
        redis_settings=RedisSettings.from_dsn(queue_redis_url),
        ctx=dict(worker_ctx),
        handle_signals=False,
        poll_delay=0.2,
        on_startup=live.startup,
        on_shutdown=live.shutdown,
    )
    publisher = worker_ctx["publisher"].publisher
    since = await publisher.latest_seq()
    async with aiohttp.ClientSession() as session:
        for service_id in (DOWN, FLAPPING):  # no scripted fault of the demo cycle during the test
            await control(session, base, service_id, "ok", 3600)
        await prober.start()
        worker_task = asyncio.create_task(worker.async_run())
        try:
            await wait_for(
                lambda: conn.fetchval("SELECT count(DISTINCT ts) >= 2 FROM checks WHERE service_id = $1 AND ok", DOWN),
                60,
                "two good slots",
            )
            await control(session, base, DOWN, "down", 60)
            await control(session, base, FLAPPING, "flap", 3600)
            incident = await wait_for(
                lambda: conn.fetchrow(
                    "SELECT id, priority, created_at FROM incidents WHERE detected_service_id = $1", DOWN
                ),
                150,
                "a P1",
            )
            await control(session, base, DOWN, "ok", 3600)
            failed = await conn.fetch("SELECT ts FROM checks WHERE service_id = $1 AND NOT ok ORDER BY ts", DOWN)
            assert incident["priority"] == "P1" and len(failed) >= 3
            assert incident["created_at"] <= failed[2]["ts"] + timedelta(seconds=30)  # 3 slots + 30 s
            await wait_for(
                lambda: conn.fetchval("SELECT status = 'monitoring' FROM incidents WHERE id = $1", incident["id"]),
                150,
                "monitoring after 5 good slots",
            )
            flapped = await conn.fetch(
                "SELECT ok FROM checks WHERE service_id = $1 AND ts > $2 ORDER BY ts", FLAPPING, failed[0]["ts"]
            )
            assert [r["ok"] for r in flapped].count(False) >= 3  # it did fail, one slot at a time
            assert (
                await conn.fetchval("SELECT count(*) FROM incidents WHERE $1 = ANY(affected_services)", FLAPPING) == 0
            )
        finally:
            await prober.stop()
            await worker.close()
            worker_task.cancel()
            await asyncio.gather(worker_task, return_exceptions=True)
            await runner.cleanup()
    created = [
        e
        for e in (await publisher.replay(since, {"incidents"})).model_dump()["events"]
        if e["event"] == "incident-created"
    ]
    assert [e["data"]["incident"]["id"] for e in created] == [incident["id"]]
    assert worker.jobs_complete >= 2 and worker.jobs_failed == 0
