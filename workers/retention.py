"""Daily cron: drop raw chunks older than SLAMON_RAW_RETENTION_DAYS (app/retention); rollups are kept."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from app.retention import service as retention
from workers.common import retrying


@retrying
async def apply_retention(ctx) -> dict:
    settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        results = await retention.apply(
            conn,
            datetime.now(timezone.utc),
            settings.raw_retention_days,
            settings.timezone,
            timedelta(seconds=settings.rollup_grace_s),
        )
    return {
        r.raw_table: {"chunks": r.chunks, "droppedBefore": r.dropped_before.isoformat() if r.dropped_before else None}
        for r in results
    }
