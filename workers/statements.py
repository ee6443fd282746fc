"""Cron job: the statement delivery (app/customers/delivery.py). Every few minutes it asks the
schedule (SLAMON_STATEMENT_DELIVERY_DAY/_TIME/_TIMEZONE) which month is due; the statements of that
month not recorded yet are recorded for delivery once (a month already delivered is skipped, so
every tick after the first finds nothing to do), and the outbox's jobs send them (workers/notify.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from app.customers import delivery, schedule
from app.periods import month
from workers.common import Ctx

log = logging.getLogger(__name__)

EVERY_5_MIN = set(range(0, 60, 5))


async def deliver_statements(ctx: Ctx) -> dict[str, list[str]]:
    """Record the due month's statements for delivery; returns {month: [customers recorded]}."""
    settings = ctx["settings"]
    now = datetime.now(timezone.utc)
    rule = schedule.parse_day_rule(settings.statement_delivery_day)
    catch_up = timedelta(days=settings.statement_delivery_catch_up_days)
    due = schedule.due_month(now, rule, settings.statement_delivery_time, settings.delivery_zone, catch_up)
    if due is None:
        return {}
    period = month(due.year, due.month, settings.zone)
    planned = await delivery.deliver_month(ctx["pool"], settings, period, now)
    return {period.label: [item.customer_id for item in planned if item.delivery_ids]}
