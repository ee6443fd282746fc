"""Cron job: keep the Apache-edition rollups materialised (every 30 s)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from app.rollups import service as rollups
from workers.common import retrying

log = logging.getLogger(__name__)


@retrying
async def refresh_rollups(ctx) -> dict:
    """Materialise every rollup up to now - grace and recompute the invalidated buckets."""
    settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        reports = await rollups.refresh(
            conn, settings.timezone, datetime.now(timezone.utc), grace=timedelta(seconds=settings.rollup_grace_s)
        )
    summary = {r.rollup: r.ranges_recomputed for r in reports}
    log.info("rollups refreshed", extra={"job": "refresh_rollups"})
    return summary
