"""`slamon worker` (the arq worker) and `slamon retention` (drop expired raw chunks now)."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cmd_worker(args: argparse.Namespace) -> int:
    from app.config import get_settings
    from workers import metrics
    from workers.settings import WorkerSettings
    from workers.supervisor import run_supervised

    settings = get_settings()
    host = args.metrics_host or settings.worker_metrics_host
    port = settings.worker_metrics_port if args.metrics_port is None else args.metrics_port
    served = None
    if port:
        try:
            served = await metrics.serve(settings, host, port)
        except OSError as exc:  # the jobs matter more than their figures: run them anyway, and say so
            log.error(
                "cannot serve metrics on %s:%d (%s); running without them. Give each worker process on a "
                "machine its own --metrics-port (SLAMON_WORKER_METRICS_PORT), 0 for none",
                host,
                port,
                exc.strerror or exc,
                extra={"job": "metrics"},
            )
    try:
        await run_supervised(WorkerSettings)
    finally:
        if served is not None:
            runner, database = served
            await runner.cleanup()
            await database.close()
    return 0


async def cmd_retention(args: argparse.Namespace) -> int:
    from datetime import datetime, timedelta, timezone

    import asyncpg

    from app.config import get_settings
    from app.retention import service as retention

    settings = get_settings()
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        results = await retention.apply(
            conn,
            datetime.now(timezone.utc),
            settings.raw_retention_days,
            settings.timezone,
            timedelta(seconds=settings.rollup_grace_s),
        )
    finally:
        await conn.close()
    for r in results:
        horizon = r.dropped_before.isoformat() if r.dropped_before else "-"
        print(f"{r.raw_table}: {r.chunks} chunk(s) dropped; raw rows kept from {horizon}")
    return 0


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    worker = sub.add_parser("worker", help="run the arq worker: rollups, detection, SLOs, retention")
    worker.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="port of GET /metrics (default SLAMON_WORKER_METRICS_PORT, 3009; 0: none)",
    )
    worker.add_argument(
        "--metrics-host", default=None, help="address of GET /metrics (default SLAMON_WORKER_METRICS_HOST, 127.0.0.1)"
    )
    worker.set_defaults(run=cmd_worker)
    sub.add_parser(
        "retention", help="drop raw chunks older than SLAMON_RAW_RETENTION_DAYS now (rollups are kept)"
    ).set_defaults(run=cmd_retention)
