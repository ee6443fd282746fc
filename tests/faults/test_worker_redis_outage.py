"""Redis goes away under a real `slamon worker` for 20 s: the worker process rides it out and, once
Redis is back (empty: the private Redis keeps nothing on disk), runs its cron jobs again by itself."""

from __future__ import annotations

import asyncio
import signal

import redis.asyncio as aioredis

from tests.faults.conftest import wait_for

OUTAGE_S = 20
# The marks arq leaves of scheduled runs, e.g. arq:in-progress:cron:detect_all:<ms> (refresh_rollups
# also runs at start-up; these two only on their schedule).
SCHEDULED_RESULTS = ("arq:*cron:detect_all:*", "arq:*cron:evaluate_slos:*")


async def _scheduled_runs(redis) -> list:
    found = []
    for pattern in SCHEDULED_RESULTS:
        found += [key async for key in redis.scan_iter(pattern)]
    return found


async def test_worker_rides_out_a_redis_outage(stack):
    worker = stack.slamon("worker", log_name="worker")
    redis = aioredis.from_url(stack.redis_url)
    try:
        await wait_for(lambda: _scheduled_runs(redis), 90, "a scheduled cron run before the outage")
        stack.stop_redis()
        await asyncio.sleep(OUTAGE_S)
        assert worker.poll() is None, f"the worker exited during the outage:\n{stack.log('worker')[-3000:]}"
        stack.up()
        assert not await _scheduled_runs(redis), "the restarted Redis starts empty"
        await wait_for(lambda: _scheduled_runs(redis), 90, "a scheduled cron run after the outage")
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        await redis.aclose()
