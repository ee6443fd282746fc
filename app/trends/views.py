"""GET /api/usage/trends/{serviceId}: capacity planners' monthly and daily usage with growth and forecast."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Path, Query

from app import deps
from app.config import Settings
from app.contract import errors
from app.services.views import require_service
from app.trends import service
from app.trends.models import UsageTrends

router = APIRouter(tags=["trends"])


@router.get(
    "/api/usage/trends/{service_id}",
    response_model=UsageTrends,
    response_model_exclude_unset=True,
    responses=errors(404),
    summary="Monthly and daily calls, error rate and P95 latency over 3-24 months, month-over-month "
    "growth and a linear forecast (method stated in the response)",
)
async def trends(
    service_id: str = Path(max_length=50),
    months: int = Query(12, ge=3, le=24),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> UsageTrends:
    svc = await require_service(conn, service_id)
    return await service.trends(conn, svc, months, now, settings.timezone, settings.zone)
