"""Public uptime grids: GET /api/uptime/{serviceId}."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg
from fastapi import APIRouter, Depends, Query

from app import deps
from app.config import Settings
from app.contract import errors
from app.errors import ApiError
from app.periods import add_months, local_date
from app.services.views import require_service
from app.uptime import service
from app.uptime.models import UptimeMonths

router = APIRouter(tags=["status"])
# A day's margin at both ends of what `date` holds: local midnights there are still instants in UTC.
FIRST_MONTH_MIN, END_MONTH_MAX = date(1, 2, 1), date(9999, 12, 1)


def _check_range(first_month: date, months: int) -> None:
    """422 naming startDate when the months would run outside years 1-9999 (a 500 once)."""
    if first_month < FIRST_MONTH_MIN or first_month > add_months(END_MONTH_MAX, -months):
        message = f"startDate: {months} month(s) from it must lie between 0001-02 and 9999-11"
        raise ApiError(
            422, "validation_error", message, [{"in": "query", "field": "startDate", "message": "out of range"}]
        )


@router.get(
    "/api/uptime/{service_id}",
    response_model=UptimeMonths,
    responses=errors(404),
    summary="Monthly availability and daily statuses (o, po, mo, nd, e)",
)
async def uptime(
    service_id: str,
    months: int = Query(3, ge=1, le=24, description="number of calendar months"),
    start_date: date | None = Query(None, alias="startDate", description="any day of the first month (YYYY-MM-DD)"),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> UptimeMonths:
    svc = await require_service(conn, service_id)
    if start_date is None:
        start_date = add_months(local_date(now, settings.zone).replace(day=1), -(months - 1))
    _check_range(start_date.replace(day=1), months)
    return await service.months(conn, svc, start_date.replace(day=1), months, now, settings.timezone, settings.zone)
