"""SLA report endpoints (PRD §5.1): response times, availability, usage, incident statistics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from app import deps
from app.contract import errors
from app.errors import ApiError
from app.periods import Period, local_date, month
from app.services.views import require_service
from app.sla import service
from app.sla.models import AvailabilityReport, IncidentStatsReport, ResponseTimesReport, UsageReport

router = APIRouter(tags=["sla"])


def report_period(
    period: Literal["monthly"] = Query("monthly", description="only calendar months for now"),
    year: int | None = Query(None, ge=2000, le=2100),
    month_number: int | None = Query(None, alias="month", ge=1, le=12),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
) -> Period:
    today = local_date(now, settings.zone)
    if (year is None) != (month_number is None):
        raise ApiError(
            422,
            "validation_error",
            "give both year and month, or neither",
            [{"in": "query", "field": "year" if year is None else "month", "message": "missing"}],
        )
    return month(year or today.year, month_number or today.month, settings.zone)


@router.get(
    "/api/sla/response-times/{service_id}",
    response_model=ResponseTimesReport,
    response_model_by_alias=True,
    responses=errors(404),
    summary="A month's response times: average, P50/P95/P99, requests over 300 ms, 500 ms and timed out",
)
async def response_times(
    service_id: str, period: Period = Depends(report_period), conn=Depends(deps.connection), now=Depends(deps.clock)
):
    return await service.response_times(conn, await require_service(conn, service_id), period, now)


@router.get(
    "/api/sla/availability/{service_id}",
    response_model=AvailabilityReport,
    responses=errors(404),
    summary="A month's availability, exactly as SLA credits are computed (docs/sla-math.md)",
)
async def availability(
    service_id: str,
    period: Period = Depends(report_period),
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    return await service.availability(conn, await require_service(conn, service_id), period, now, settings.timezone)


@router.get(
    "/api/sla/usage/{service_id}",
    response_model=UsageReport,
    responses=errors(404),
    summary="A month's API calls as the service reported them: totals, error rate, daily",
)
async def usage(
    service_id: str,
    period: Period = Depends(report_period),
    conn=Depends(deps.connection),
    settings=Depends(deps.settings),
    now=Depends(deps.clock),
):
    return await service.usage(conn, await require_service(conn, service_id), period, now, settings.timezone)


@router.get(
    "/api/sla/incidents/stats",
    response_model=IncidentStatsReport,
    responses=errors(404),
    summary="A month's incidents by priority, with resolution times",
)
async def incident_stats(
    period: Period = Depends(report_period),
    service_id: str | None = Query(None, alias="serviceId"),
    conn=Depends(deps.connection),
    now=Depends(deps.clock),
):
    if service_id is not None:
        await require_service(conn, service_id)
    return await service.incident_stats(conn, period, now, service_id)
