"""Cron, every 5 minutes: the SLO forecasts of the active services (app/slo/forecast_service.py) and
their forecast alerts, opened and closed from what the forecasts say now (sql/310); then the same
for the stored SLO definitions (app/slo/definitions/forecast.py, sql/312). The notification
scan (app/notifications/outbox.py) announces each opening and closing once; a forecast alert comes
before a burn-rate alert would fire (docs/sla-math.md "Forecasts")."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.services import service as services
from app.slo import forecast_service
from app.slo.definitions import forecast as definition_forecast
from workers.common import Ctx, retrying

log = logging.getLogger(__name__)
EVERY_5_MIN = set(range(0, 60, 5))


def alert_settings(ctx: Ctx) -> forecast_service.Settings:
    settings = ctx["settings"]
    return forecast_service.Settings(settings.forecast_horizon_h * 3600, settings.forecast_miss_probability)


@retrying
async def forecast_slos(ctx: Ctx) -> list[str]:
    """Forecast every active service's SLOs; open and close their forecast alerts."""
    return await sweep_forecasts(ctx, datetime.now(timezone.utc))


async def sweep_forecasts(ctx: Ctx, now: datetime) -> list[str]:
    """The forecasts at `now` (the tier SLOs' and the stored definitions'); the alerts' changes as
    'opened|closed:service:slo' and 'opened|closed:service:definition:name'."""
    settings = ctx["settings"]
    async with ctx["pool"].acquire() as conn:
        active = list(await services.list_active(conn))
        reports = await forecast_service.forecasts(
            conn, active, now, settings.timezone, settings.zone, alert_settings(ctx)
        )
        changes = await forecast_service.apply_alerts(conn, reports, now)
        definition_reports = await definition_forecast.every_forecast(
            conn, active, now, settings.zone, alert_settings(ctx)
        )
        definition_changes = await definition_forecast.apply_alerts(conn, definition_reports, now)
    for change in changes:
        log.info(
            "SLO forecast alert %s: %s %s",
            change.kind,
            change.alert["slo"],
            ",".join(change.alert["reasons"]),
            extra={"service_id": change.alert["service_id"], "job": "forecast_slos"},
        )
    for dchange in definition_changes:
        log.info(
            "SLO definition forecast alert %s: %s %s",
            dchange.kind,
            dchange.alert["definition"],
            ",".join(dchange.alert["reasons"]),
            extra={"service_id": dchange.alert["service_id"], "job": "forecast_slos"},
        )
    return [f"{c.kind}:{c.alert['service_id']}:{c.alert['slo']}" for c in changes] + [
        f"{c.kind}:{c.alert['service_id']}:definition:{c.alert['definition']}" for c in definition_changes
    ]
