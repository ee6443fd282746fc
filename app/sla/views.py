"""SLA report endpoints (PRD §5.1): response times, availability, usage, incident statistics."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Query

from app import deps
from app.config import Settings
from app.contract import errors
from app.period_params import report_period
from app.periods import Period
from app.services.views import require_service
from app.sla import service
from app.sla.models import AvailabilityReport, IncidentStatsReport, ResponseTimesReport, UsageReport

router = APIRouter(tags=["sla"])


@router.get(
    "/api/sla/response-times/{service_id}",
    response_model=ResponseTimesReport,
    response_model_by_alias=True,
    responses=errors(404),
    summary="A period's response times: average, P50/P95/P99, requests over 300 ms, 500 ms and timed out",
)
async def response_times(
    service_id: str,
    period: Period = Depends(report_period),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ResponseTimesReport:
    return await service.response_times(conn, await require_service(conn, service_id), period, now)


@router.get(
    "/api/sla/availability/{service_id}",
    response_model=AvailabilityReport,
    responses=errors(404),
    summary="A period's availability, exactly as SLA credits are computed (docs/sla-math.md)",
)
async def availability(
    service_id: str,
    period: Period = Depends(report_period),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> AvailabilityReport:
    return await service.availability(conn, await require_service(conn, service_id), period, now, settings.timezone)


@router.get(
    "/api/sla/usage/{service_id}",
    response_model=UsageReport,
    responses=errors(404),
    summary="A period's API calls as the service reported them: totals, error rate, daily",
)
async def usage(
    service_id: str,
    period: Period = Depends(report_period),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> UsageReport:
    return await service.usage(conn, await require_service(conn, service_id), period, now, settings.timezone)


@router.get(
    "/api/sla/incidents/stats",
    response_model=IncidentStatsReport,
    responses=errors(404),
    summary="A period's incidents by priority, with resolution times",
)
async def incident_stats(
    period: Period = Depends(report_period),
    service_id: str | None = Query(None, alias="serviceId"),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> IncidentStatsReport:
    if service_id is not None:
        await require_service(conn, service_id)
    return await service.incident_stats(conn, period, now, service_id)
