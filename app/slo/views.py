"""SLO endpoints: GET /api/slo/violations and GET /api/slo/{serviceId}. Public reads, like /api/sla."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Query

from app import deps
from app.config import Settings
from app.contract import errors
from app.errors import ApiError
from app.period_params import report_period
from app.periods import Period
from app.services.views import require_service
from app.slo import service
from app.slo.models import SloReport, ViolationPage

router = APIRouter(tags=["slo"])
SLO_NAMES = Literal[
    "availability",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "error_rate",
    "error_rate_4xx",
    "error_rate_5xx",
    "burn_rate_fast",
    "burn_rate_slow",
]


@router.get(
    "/api/slo/violations",
    response_model=ViolationPage,
    responses=errors(404),
    summary="SLO violations, newest first: filter by service, open/closed, "
    "time range (overlapping [since, until)), SLO, severity",
)
async def list_violations(
    service_id: str | None = Query(None, alias="serviceId", max_length=50),
    state: Literal["open", "closed"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    slo: SLO_NAMES | None = None,
    severity: Literal["WARNING", "CRITICAL"] | None = None,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> ViolationPage:
    since, until = deps.utc_instant(since, "since"), deps.utc_instant(until, "until")
    if since is not None and until is not None and since >= until:
        raise ApiError(
            422,
            "validation_error",
            "since must be before until",
            [{"in": "query", "field": "until", "message": "must be after since"}],
        )
    if service_id is not None:
        await require_service(conn, service_id)
    return await service.list_violations(
        conn,
        now,
        service_id=service_id,
        state=state,
        since=since,
        until=until,
        slo=slo,
        severity=severity,
        page=page,
        limit=limit,
    )


@router.get(
    "/api/slo/{service_id}",
    response_model=SloReport,
    responses=errors(404),
    summary="A service's SLOs for a month (default: this month, to date): target, "
    "current value, error budget, burn rates, open violations",
)
async def service_slos(
    service_id: str,
    period: Period = Depends(report_period),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> service.SloReportJson:
    service_row = await require_service(conn, service_id)
    return await service.report(conn, service_row, period, now, settings.timezone)
