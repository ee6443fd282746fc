"""arq WorkerSettings: the worker process's cron jobs and tasks, and the clients they share (ctx).

Every cron job is unique (one run per tick across any number of workers: arq names a tick's job
after its time, and a job id whose result is still kept is not queued again: KEEP_TICK_S); transient failures are
retried with back-off (workers/common.py); a job lost with a killed worker stays queued and runs again
once its in-progress mark expires: arq sets it to the longest timeout of any job + 10 s, so no job may
have a timeout above SLAMON_WORKER_JOB_TIMEOUT_S (a month close took 7 s for 50 services; a webhook
delivery is its hard timeout + 15 s)."""

from __future__ import annotations

from collections.abc import Sequence

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Function

from app.config import get_settings
from app.db import create_pool
from app.reports import pdf
from workers import escalation, forecast, live, notify
from workers.common import Ctx, EventPublisher
from workers.detection import detect_all, detect_incidents
from workers.metrics import timed_cron_jobs, timed_functions
from workers.reports import close_months
from workers.retention import apply_retention
from workers.rollups import refresh_rollups
from workers.slo import evaluate_slos
from workers.slo_definitions import evaluate_slo_definitions
from workers.statements import EVERY_5_MIN, deliver_statements

EVERY_30_S = {0, 30}
# A tick's result is what stops a worker that stalled across it (a long pause, a starved VM) from
# queueing it again on resuming, after another worker ran it: arq does not queue a job id whose result
# is kept. arq's cron() keeps none by default, and such a late copy then ran a minute later, when the
# tick's in-progress mark expired (tests/app/test_replicas.py). A pause longer than this still re-runs
# the ticks it missed; every cron job is safe to run again.
KEEP_TICK_S = 3600
JOB_TIMEOUT_S = get_settings().worker_job_timeout_s


async def startup(ctx: Ctx) -> None:
    settings = ctx.setdefault("settings", get_settings())
    if "pool" not in ctx:
        # min_size 0: the worker starts while the database is down; jobs retry until it is back.
        ctx["pool"] = await create_pool(settings, min_size=0, max_size=5, application_name="slamon-worker")
    ctx.setdefault("publisher", EventPublisher(settings))
    await notify.startup(ctx)
    await live.startup(ctx)


async def shutdown(ctx: Ctx) -> None:
    await live.shutdown(ctx)
    await notify.shutdown(ctx)
    await pdf.shutdown()  # the statement delivery's browser, if it printed
    await ctx["pool"].close()
    await ctx["publisher"].close()


class WorkerSettings:
    # Annotated as arq declares them (arq.typing.WorkerSettingsBase), so run_worker type-checks.
    functions: Sequence[WorkerCoroutine | Function] = [
        func(detect_incidents, timeout=JOB_TIMEOUT_S),
        func(notify.notify_deliver, timeout=get_settings().webhook_timeout_s + 15, keep_result=0),
        func(notify.notify_dispatch, timeout=JOB_TIMEOUT_S, keep_result=0),
    ]
    cron_jobs: Sequence[CronJob] | None = [
        cron(
            refresh_rollups,
            second=EVERY_30_S,
            unique=True,
            timeout=JOB_TIMEOUT_S,
            keep_result=KEEP_TICK_S,
            run_at_startup=True,
        ),
        cron(detect_all, second={15}, unique=True, timeout=JOB_TIMEOUT_S, keep_result=KEEP_TICK_S),
        cron(evaluate_slos, second={45}, unique=True, timeout=JOB_TIMEOUT_S, keep_result=KEEP_TICK_S),
        cron(evaluate_slo_definitions, second={50}, unique=True, timeout=JOB_TIMEOUT_S, keep_result=KEEP_TICK_S),
        cron(
            forecast.forecast_slos,
            minute=forecast.EVERY_5_MIN,
            second={50},
            unique=True,
            timeout=JOB_TIMEOUT_S,
            keep_result=KEEP_TICK_S,
        ),
        cron(
            apply_retention,
            hour={3},
            minute={17},
            second={0},
            unique=True,
            timeout=JOB_TIMEOUT_S,
            keep_result=KEEP_TICK_S,
        ),
        cron(
            close_months,
            minute=set(range(0, 60, 10)),
            second=15,
            unique=True,
            timeout=JOB_TIMEOUT_S,
            keep_result=KEEP_TICK_S,
            run_at_startup=True,
        ),
        cron(
            deliver_statements,
            minute=EVERY_5_MIN,
            second=40,
            unique=True,
            timeout=JOB_TIMEOUT_S,
            keep_result=KEEP_TICK_S,
            run_at_startup=True,
        ),
        cron(
            notify.notify_tick,
            second=notify.EVERY_5_S,
            unique=True,
            timeout=60,
            keep_result=KEEP_TICK_S,
            run_at_startup=True,
        ),
        cron(
            escalation.escalate_tick,
            second=escalation.EVERY_5_S,
            unique=True,
            timeout=60,
            run_at_startup=True,
            keep_result=KEEP_TICK_S,
        ),
    ]
    # Plain callables taking ctx, not methods of this class.
    on_startup: StartupShutdown | None = startup
    on_shutdown: StartupShutdown | None = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
    max_tries = 5
    job_timeout = JOB_TIMEOUT_S


# Every job counted and timed for GET /metrics (workers/metrics.py), under its own name.
WorkerSettings.functions = timed_functions(WorkerSettings.functions, WorkerSettings.max_tries)
WorkerSettings.cron_jobs = timed_cron_jobs(WorkerSettings.cron_jobs, WorkerSettings.max_tries)
