"""The capacity planner's page: /trends/{serviceId} — monthly calls with forecast, error rate, P95, daily calls."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from app import deps
from app.reports import charts
from app.reports.i18n import strings
from app.reports.pages import page
from app.reports.views import language
from app.services import service as services
from app.trends import service


def trend_charts(data: dict, t: dict) -> dict:
    monthly, forecast = data["monthly"], data["forecast"]["months"]
    labels = [m["month"] for m in monthly] + [f["month"] for f in forecast if f["month"] not in
                                               {m["month"] for m in monthly}]
    forecast_of = {f["month"]: f["calls"] for f in forecast}
    actual = [m["calls"] for m in monthly] + [None] * (len(labels) - len(monthly))
    # The running month's forecast is the part still to come above its calls so far.
    ahead = [max(0, forecast_of[label] - (actual[i] or 0)) if label in forecast_of else None
             for i, label in enumerate(labels)]
    months = [m["month"] for m in monthly]
    return {
        "calls": charts.stacked_bars("chart-calls", t["monthly_calls"], f"{t['calls']}, {t['forecast']}", labels,
                                     [charts.Series(t["calls"], actual, charts.COLOURS["success"]),
                                      charts.Series(t["forecast"], ahead, charts.COLOURS["forecast"], dashed=True)],
                                     t["chart_no_data"]),
        "error_rate": charts.line_chart("chart-error-rate", t["monthly_error_rate"], "%", months,
                                        [charts.Series(t["error_rate"], [m["errorRate"] if m["calls"] else None
                                                                          for m in monthly], charts.COLOURS["errors"])],
                                        t["chart_no_data"], "%"),
        "p95": charts.line_chart("chart-p95", t["monthly_p95"], "ms", months,
                                 [charts.Series("P95", [m["p95LatencyMs"] for m in monthly], charts.COLOURS["p95"])],
                                 t["chart_no_data"], " ms"),
        "daily": charts.line_chart("chart-daily-calls", t["daily_calls"], t["calls"],
                                   [d["date"][5:] for d in data["daily"]],
                                   [charts.Series(t["calls"], [d["calls"] for d in data["daily"]], charts.COLOURS["line"])],
                                   t["chart_no_data"]),
    }


router = APIRouter(tags=["pages"])


@router.get("/trends/{service_id}", response_class=HTMLResponse,
            summary="Usage trends page (capacity planners): calls, errors, P95, growth and forecast")
async def trends_page(request: Request, service_id: str = Path(max_length=50), months: int = Query(12),
                      lang: str = Depends(language), conn=Depends(deps.connection),
                      settings=Depends(deps.settings), now=Depends(deps.clock)):
    context = {"selected_service": service_id, "months": months, "error": None}
    svc = await services.get(conn, service_id)
    if svc is None:
        return page(request, "trends_page.html", lang, "trends_page_title", 404,
                    **{**context, "error": f"service: unknown service {service_id!r}"})
    if not 3 <= months <= 24:
        return page(request, "trends_page.html", lang, "trends_page_title", 422,
                    **{**context, "months": 12, "error": f"months must be between 3 and 24, got {months}"})
    data = await service.trends(conn, svc, months, now, settings.timezone, settings.zone)
    return page(request, "trends_page.html", lang, "trends_page_title", data=data,
                charts=trend_charts(data, strings(lang)), **context)
