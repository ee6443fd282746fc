"""GET /api/slo/{serviceId}/forecast: the running month's forecasts of a service's SLOs. A public
read, like GET /api/slo/{serviceId}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app import deps
from app.contract import errors
from app.services.views import require_service
from app.slo import forecast_service
from app.slo.forecast_models import ServiceForecast

router = APIRouter(tags=["slo"])


def forecast_settings(settings: Any = Depends(deps.settings)) -> forecast_service.Settings:
    return forecast_service.Settings(settings.forecast_horizon_h * 3600, settings.forecast_miss_probability)


@router.get(
    "/api/slo/{service_id}/forecast",
    response_model=ServiceForecast,
    responses=errors(404),
    summary="A service's SLO forecasts for the running month: when each error budget runs out at the "
    "month's and the last 7 days' burn, the probability of missing the target, open forecast alerts",
)
async def service_forecast(
    service_id: str,
    conn: Any = Depends(deps.connection),
    settings: Any = Depends(deps.settings),
    alerting: forecast_service.Settings = Depends(forecast_settings),
    now: Any = Depends(deps.clock),
) -> dict[str, Any]:
    row = await require_service(conn, service_id)
    found = await forecast_service.forecasts(conn, [row], now, settings.timezone, settings.zone, alerting)
    return found[service_id] | {"openAlerts": await forecast_service.open_alerts(conn, service_id)}
