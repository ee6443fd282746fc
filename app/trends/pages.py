"""The capacity planner's page: /trends/{serviceId} — monthly calls with growth and forecast, error rate,
P95, and daily calls against the tier's daily quota with the days until it, drawn in the browser with
uPlot (frontend/reports/static/trends.js) from the figures embedded as JSON; the same figures are in the
page's tables, which is all it needs without JS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from app import deps
from app.config import Settings
from app.reports.pages import page
from app.services import service as services
from app.trends import service
from app.web.i18n import Translator
from app.web.templating import json_script, language_of, translator

# The texts the chart module shows (legends, axes, the keyboard read-out).
SCRIPT_TEXTS = (
    "calls",
    "forecast",
    "growth",
    "error_rate",
    "p95_latency",
    "month",
    "date",
    "chart_keys",
    "daily_quota",
)


def _span(labels: list[str], none: str) -> str:
    return f"{labels[0]}–{labels[-1]}" if labels else none


def chart_descriptions(data: dict[str, Any], t: Translator) -> dict[str, str]:
    """What each chart shows, for screen readers (the canvas's description)."""
    none = t("reports.none")
    months = _span([m["month"] for m in data["monthly"]], none)
    daily = [t("reports.chart_daily_description", days=_span([d["date"] for d in data["daily"]], none))]
    quota = data["capacity"]["dailyRequests"]
    if quota is not None:
        daily.append(t("reports.chart_daily_quota_description", quota=f"{quota:,}"))
    return {
        "calls": t(
            "reports.chart_calls_description",
            months=months,
            forecast=_span([f["month"] for f in data["forecast"]["months"]], none),
        ),
        "error-rate": t("reports.chart_error_rate_description", months=months),
        "p95": t("reports.chart_p95_description", months=months),
        "daily-calls": " ".join(daily),
    }


router = APIRouter(tags=["pages"])
TEMPLATE, TITLE = "reports/trends_page.html", "reports.trends_page_title"


@router.get(
    "/trends/{service_id}",
    response_class=HTMLResponse,
    summary="Usage trends page (capacity planners): calls, errors, P95, growth and forecast",
)
async def trends_page(
    request: Request,
    service_id: str = Path(max_length=50),
    months: int = Query(12),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> HTMLResponse:
    context: dict[str, Any] = {"selected_service": service_id, "months": months, "nav": "trends"}
    svc = await services.get(conn, service_id)
    if svc is None:
        error = f"service: unknown service {service_id!r}"
        return page(request, TEMPLATE, TITLE, 404, **context, nav_service=None, error=error)
    if not 3 <= months <= 24:
        return page(
            request,
            TEMPLATE,
            TITLE,
            422,
            **(context | {"months": 12}),
            error=f"months must be between 3 and 24, got {months}",
        )
    # the page's data: the API's document, key for key (camelCase, unset fields left out)
    data = (await service.trends(conn, svc, months, now, settings.timezone, settings.zone)).model_dump(
        exclude_unset=True
    )
    t = translator(language_of(request))
    chart_data = {"trends": data, "texts": {key: t(f"reports.{key}") for key in SCRIPT_TEXTS}}
    return page(
        request,
        TEMPLATE,
        TITLE,
        data=data,
        descriptions=chart_descriptions(data, t),
        chart_data=json_script(chart_data),
        **context,
    )
