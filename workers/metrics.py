"""Prometheus metrics of one `slamon worker` process, served at GET /metrics on SLAMON_WORKER_METRICS_HOST:
SLAMON_WORKER_METRICS_PORT (127.0.0.1:3009; `slamon worker --metrics-port`). Every series and an example
alert are listed in docs/operations.md, "Metrics".

- job runs by job name and outcome, and their duration: every job of workers/settings.py is wrapped
  (`timed`), its arq name unchanged;
- read from the database at each scrape, the same from every worker process: rollup refresh lag
  (now − watermark, table rollup_state) and the notification outbox (events not fanned out yet,
  deliveries pending, the age of the oldest pending delivery).

The server lives as long as the process, across the supervisor's restarts of the arq worker
(workers/supervisor.py), so the counters survive a Redis outage; it has its own one-connection pool."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from arq import Retry, func
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from app.config import Settings
from app.db import create_pool
from workers.common import Ctx

# No `<name>_created` series beside every counter and histogram: Prometheus does not use them in this
# format, and they would double the series.
disable_created_metrics()  # type: ignore[no-untyped-call]  # (the library leaves it unannotated)
log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
OUTCOMES = ("success", "retry", "failure", "cancelled")
JOB_RUNS = Counter(
    "slamon_worker_job_runs",
    "Job runs of this worker process by job and outcome: success; retry (a transient failure, run again "
    "after a back-off); failure (an error, or a transient one on the last allowed try); cancelled (timed "
    "out, or the worker stopped; arq runs it again).",
    ["job", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "slamon_worker_job_duration_seconds",
    "Duration of the job runs of this worker process, whatever their outcome.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "slamon_worker_job_last_success_timestamp_seconds",
    "When a run of the job last succeeded in this worker process (Unix time).",
    ["job"],
    registry=REGISTRY,
)
SCRAPE_TIMEOUT_S = 5.0
ROLLUP_LAG = """
SELECT rollup, extract(epoch FROM now() - watermark)::float8 AS lag_s
FROM rollup_state WHERE watermark IS NOT NULL ORDER BY rollup
"""
OUTBOX = """
SELECT (SELECT count(*) FROM notification_events WHERE dispatched_at IS NULL) AS events,
       (SELECT count(*) FROM notification_deliveries WHERE status = 'pending') AS deliveries,
       (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
          FROM notification_deliveries WHERE status = 'pending') AS oldest_s
"""
Job = TypeVar("Job", Function, CronJob)


def timed(name: str, coroutine: WorkerCoroutine, max_tries: int) -> WorkerCoroutine:
    """`coroutine` counted into JOB_RUNS and JOB_DURATION under `name`; same name and signature."""
    for outcome in OUTCOMES:
        JOB_RUNS.labels(name, outcome)  # every series present at 0, so increase() sees the first one

    @functools.wraps(coroutine)
    async def run(ctx: Ctx, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        outcome = "failure"
        try:
            result = await coroutine(ctx, *args, **kwargs)
            outcome = "success"
            JOB_LAST_SUCCESS.labels(name).set(time.time())
            return result
        except Retry:
            outcome = "retry" if ctx.get("job_try", 1) < max_tries else "failure"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            JOB_RUNS.labels(name, outcome).inc()
            JOB_DURATION.labels(name).observe(time.perf_counter() - started)

    return run


def timed_functions(jobs: Sequence[WorkerCoroutine | Function], max_tries: int) -> list[WorkerCoroutine | Function]:
    """arq functions with their coroutines wrapped by `timed`, labelled with the coroutine's name."""
    return [_timed_job(func(job), max_tries) for job in jobs]


def timed_cron_jobs(jobs: Sequence[CronJob] | None, max_tries: int) -> list[CronJob]:
    """arq cron jobs the same way (labelled `detect_all`, not arq's `cron:detect_all`)."""
    return [_timed_job(job, max_tries) for job in jobs or ()]


def _timed_job(job: Job, max_tries: int) -> Job:
    tries = job.max_tries if job.max_tries is not None else max_tries
    return dataclasses.replace(job, coroutine=timed(job.coroutine.__qualname__, job.coroutine, tries))


class DatabaseCollector(Collector):
    """The database-derived gauges, as read by the last `refresh` (the scrape handler awaits it first)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.families: list[Metric] = []
        self.up = 0

    async def refresh(self) -> None:
        try:
            if self.pool is None:
                self.pool = await create_pool(
                    self.settings, min_size=0, max_size=1, application_name="slamon-worker-metrics"
                )
            async with asyncio.timeout(SCRAPE_TIMEOUT_S):
                async with self.pool.acquire() as conn:
                    lags = await conn.fetch(ROLLUP_LAG)
                    outbox = await conn.fetchrow(OUTBOX)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("metrics: database figures unavailable (%r)", exc, extra={"job": "metrics"})
            self.families, self.up = [], 0
            return
        lag = GaugeMetricFamily(
            "slamon_rollup_refresh_lag_seconds",
            "Now minus the rollup's watermark (rollup_state): how far behind the materialised buckets are; "
            "SLAMON_ROLLUP_GRACE_S plus up to 30 s when the refresh keeps up. The same in every worker process.",
            labels=["rollup"],
        )
        for row in lags:
            lag.add_metric([row["rollup"]], row["lag_s"])
        assert outbox is not None  # a SELECT of scalars always returns its row
        self.families = [
            lag,
            _gauge(
                "slamon_notify_events_pending",
                "Notification events in the outbox not fanned out into deliveries yet.",
                outbox["events"],
            ),
            _gauge(
                "slamon_notify_deliveries_pending",
                "Notification deliveries not delivered or given up yet (in flight or waiting for a retry).",
                outbox["deliveries"],
            ),
            _gauge(
                "slamon_notify_oldest_pending_delivery_age_seconds",
                "Age of the oldest pending notification delivery; 0 when none is pending.",
                outbox["oldest_s"],
            ),
        ]
        self.up = 1

    def collect(self) -> Iterable[Metric]:
        yield _gauge(
            "slamon_worker_metrics_database_up",
            "Whether this scrape could read the database figures below (rollup lag, outbox); 0: they are absent.",
            self.up,
        )
        yield from self.families

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text)
    family.add_metric([], value)
    return family


async def serve(settings: Settings, host: str, port: int) -> tuple[web.AppRunner, DatabaseCollector]:
    """Start GET /metrics on host:port; raises OSError when the port is taken (the caller goes on without)."""
    database = DatabaseCollector(settings)
    database_registry = CollectorRegistry()
    database_registry.register(database)

    async def metrics(request: web.Request) -> web.Response:
        await database.refresh()
        body = generate_latest(REGISTRY) + generate_latest(database_registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, database
