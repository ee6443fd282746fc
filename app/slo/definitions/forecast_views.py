"""GET /api/slo-definitions/{name}/forecast: a definition's forecast per service it covers (docs/api.md,
docs/sla-math.md "Forecasts of SLO definitions"). A public read, like its status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends

from app import deps
from app.config import Settings
from app.contract import errors
from app.slo import forecast_service
from app.slo.definitions import forecast, service
from app.slo.definitions.forecast_models import DefinitionForecast
from app.slo.definitions.views import NAME
from app.slo.forecast_views import forecast_settings

router = APIRouter(tags=["slo"])


@router.get(
    "/api/slo-definitions/{name}/forecast",
    response_model=DefinitionForecast,
    responses=errors(404),
    summary="An SLO definition's forecast per service: when its error budget runs out at the window's and "
    "the last 7 days' burn, the probability of missing the target (calendar: at the period's end; rolling: "
    "24 h from now), open forecast alerts",
)
async def definition_forecast(
    name: str = NAME,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    alerting: forecast_service.Settings = Depends(forecast_settings),
    now: datetime = Depends(deps.clock),
) -> dict[str, Any]:
    definition, _ = await service.find(conn, name)
    found = await forecast.forecasts(conn, definition, now, settings.zone, alerting)
    return found | {"openAlerts": await forecast.open_alerts(conn, definition.name)}
