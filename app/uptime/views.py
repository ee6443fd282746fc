"""Public uptime grids: GET /api/uptime/{serviceId}."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query

from app import deps
from app.periods import add_months, local_date
from app.services.views import require_service
from app.uptime import service

router = APIRouter(tags=["status"])


@router.get("/api/uptime/{service_id}", summary="Monthly availability and daily statuses (o, po, mo, nd, e)")
async def uptime(
    service_id: str,
    months: int = Query(3, ge=1, le=24, description="number of calendar months"),
    start_date: date | None = Query(None, alias="startDate", description="any day of the first month (YYYY-MM-DD)"),
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    svc = await require_service(conn, service_id)
    if start_date is None:
        start_date = add_months(local_date(now, settings.zone).replace(day=1), -(months - 1))
    return await service.months(conn, svc, start_date.replace(day=1), months, now, settings.timezone, settings.zone)
