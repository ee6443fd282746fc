"""arq WorkerSettings: the worker process's cron jobs and tasks, and the clients they share (ctx)."""
from __future__ import annotations

from arq import cron, func
from arq.connections import RedisSettings

from app.config import get_settings
from app.db import create_pool
from workers import notify
from workers.reports import close_months
from workers.rollups import refresh_rollups

EVERY_30_S = {0, 30}


async def startup(ctx) -> None:
    settings = get_settings()
    ctx["settings"] = settings
    ctx["pool"] = await create_pool(settings, min_size=1, max_size=5, application_name="slamon-worker")
    await notify.startup(ctx)


async def shutdown(ctx) -> None:
    await notify.shutdown(ctx)
    await ctx["pool"].close()


class WorkerSettings:
    functions: list = [
        func(notify.notify_deliver, timeout=get_settings().webhook_timeout_s + 15, keep_result=0),
        func(notify.notify_dispatch, timeout=60, keep_result=0),
    ]
    cron_jobs = [
        cron(refresh_rollups, second=EVERY_30_S, unique=True, timeout=600, run_at_startup=True),
        cron(close_months, minute=set(range(0, 60, 10)), second=15, unique=True, timeout=1800, run_at_startup=True),
        cron(notify.notify_tick, second=notify.EVERY_5_S, unique=True, timeout=60, run_at_startup=True,
             keep_result=0),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    max_tries = 5
    job_timeout = 600
