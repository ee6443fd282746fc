"""`slamon worker` under supervision: arq's worker stops for good when Redis goes away (its poll loop
raises), which would stop detection, SLOs, rollups and notifications until someone restarts it.
Here the same process starts a fresh arq worker after any failure, with back-off (1 s doubling to
30 s, back to 1 s after a run of a minute), so it rides out a Redis outage of any length; SIGINT or
SIGTERM stop it as arq's own signal handling would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from arq.worker import Worker, create_worker

log = logging.getLogger(__name__)
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STABLE_RUN_S = 60.0


async def run_supervised(settings_cls: type) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    delay_s = RESTART_MIN_S
    while not stop.is_set():
        worker = create_worker(settings_cls, handle_signals=False)
        started = loop.time()
        main = asyncio.create_task(worker.main(), name="arq-worker")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if stop.is_set():
            main.cancel()
            await asyncio.gather(main, return_exceptions=True)
            await _close(worker, graceful=True)
            return
        failure = main.exception() if not main.cancelled() else None
        if loop.time() - started >= STABLE_RUN_S:
            delay_s = RESTART_MIN_S
        log.error("worker stopped (%r); starting a new one in %.0f s", failure, delay_s, extra={"job": "worker"})
        await _close(worker, graceful=False)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await stop.wait()
        delay_s = min(delay_s * 2, RESTART_MAX_S)


async def _close(worker: Worker, graceful: bool) -> None:
    """Stop the worker's jobs and release its clients; after a failure Redis may well be unreachable,
    so nothing here may raise."""
    tasks = list(worker.tasks.values())
    for task in tasks:
        if not task.done():
            task.cancel()  # as arq does on a signal; the job stays queued and runs again (workers/settings.py)
    await asyncio.gather(*tasks, return_exceptions=True)
    if worker.on_shutdown is not None and "pool" in worker.ctx:  # startup ran: release what it opened
        try:
            await worker.on_shutdown(worker.ctx)
        except Exception:
            log.exception("worker shutdown failed", extra={"job": "worker"})
    redis = worker._pool  # arq keeps no public handle on the pool it created
    if redis is not None:
        with contextlib.suppress(Exception):
            if graceful:
                await redis.delete(worker.health_check_key)
            await redis.close(close_connection_pool=True)
        worker._pool = None
