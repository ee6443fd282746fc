"""`slamon worker` (the arq worker) and `slamon retention` (drop expired raw chunks now)."""

from __future__ import annotations

import argparse
from typing import Any


async def cmd_worker(args: argparse.Namespace) -> int:
    from workers.settings import WorkerSettings
    from workers.supervisor import run_supervised

    await run_supervised(WorkerSettings)
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
    sub.add_parser("worker", help="run the arq worker: rollups, detection, SLOs, retention").set_defaults(
        run=cmd_worker
    )
    sub.add_parser(
        "retention", help="drop raw chunks older than SLAMON_RAW_RETENTION_DAYS now (rollups are kept)"
    ).set_defaults(run=cmd_retention)
