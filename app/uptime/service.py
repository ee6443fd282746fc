"""Monthly uptime grids (PRD /api/uptime/:serviceId)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import asyncpg

from app.formatting import percentage_text
from app.periods import Period, add_months
from app.sla import service as sla
from app.sla.models import ServiceRef
from app.uptime.models import UptimeMonth, UptimeMonths


async def months(
    conn: asyncpg.Connection,
    service: asyncpg.Record,
    first_month: date,
    count: int,
    now: datetime,
    timezone_name: str,
    zone: ZoneInfo,
) -> UptimeMonths:
    """`count` calendar months from `first_month`: each with its availability and daily statuses."""
    period = Period(first_month, add_months(first_month, count), zone, "")
    records = (await sla.check_days(conn, [service], period, now, timezone_name))[service["id"]]
    result = []
    for index in range(count):
        month_start = add_months(first_month, index)
        month_records = [r for r in records if (r.day.year, r.day.month) == (month_start.year, month_start.month)]
        result.append(
            UptimeMonth(
                name=month_start.strftime("%B %Y"),
                month=month_start.strftime("%Y-%m"),
                uptime=percentage_text(sla.total(month_records).uptime),
                days=[sla.day_status(r, service["tier"]) for r in month_records],
            )
        )
    return UptimeMonths(service=ServiceRef(id=service["id"], name=service["name"]), months=result)
