"""Cron job: the month close. Once a month has ended in the reporting time zone and
SLAMON_REPORT_CLOSE_GRACE_S has passed, freeze every service's report (revision 1). Idempotent: a
month already frozen is skipped, and two workers never both close (advisory lock + unique rows)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from app.reports import service as reports

log = logging.getLogger(__name__)


async def close_months(ctx) -> dict:
    """Freeze the reports of every due month not frozen yet; returns {month: [service ids frozen]}."""
    settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        closed = await reports.close_due_months(
            conn,
            datetime.now(timezone.utc),
            settings.timezone,
            settings.zone,
            timedelta(seconds=settings.report_close_grace_s),
        )
    log.info("month close: %s", {m: len(ids) for m, ids in closed.items()}, extra={"job": "close_months"})
    return closed
