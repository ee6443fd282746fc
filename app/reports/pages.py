"""The analyst's page: /reports — choose a service and a month, read the report, download it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from app import deps
from app.config import Settings
from app.errors import ApiError
from app.periods import add_months, local_date
from app.reports import render, service
from app.services import service as services
from app.web import templating

router = APIRouter(tags=["pages"])
TEMPLATE = "reports/reports_page.html"


def page(request: Request, template: str, title_key: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page of the reports family (/reports, /trends/{id}): the base layout every page extends
    (frontend/reports/_layout.html), in the request's language (templating.language_of)."""
    t = templating.translator(templating.language_of(request))
    context.setdefault("nav_service", context.get("selected_service"))
    context.setdefault("nav", None)
    context.setdefault("error", None)
    return templating.render(request, template, status_code=status, page_title=t(title_key), **context)


@router.get("/reports", response_class=HTMLResponse, summary="SLA report page (analysts): pick a service and month")
async def reports_page(
    request: Request,
    service_id: str | None = Query(None, alias="service", max_length=50),
    month_text: str | None = Query(None, alias="month", max_length=20),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> HTMLResponse:
    catalog = [{"id": r["id"], "name": r["name"]} for r in await services.list_active(conn)]
    today = local_date(now, settings.zone)
    last_month = add_months(today.replace(day=1), -1)
    context: dict[str, Any] = {  # the template's
        "services": catalog,
        "selected_service": service_id or (catalog[0]["id"] if catalog else None),
        "selected_month": month_text or f"{last_month:%Y-%m}",
        "max_month": f"{today:%Y-%m}",
        "nav": "reports",
    }
    if not catalog:
        return page(request, TEMPLATE, "reports.reports_page_title", **context)
    try:
        svc = await services.get(conn, context["selected_service"])
        if svc is None:
            raise ApiError(404, "not_found", f"service: unknown service {context['selected_service']!r}")
        period = service.parse_month(context["selected_month"], settings.zone, now)
    except ApiError as exc:
        return page(request, TEMPLATE, "reports.reports_page_title", exc.status, **context, error=exc.message)
    doc = await service.get(conn, svc, period, now, settings.timezone)
    report = render.report_context(doc, templating.language_of(request))
    return page(
        request,
        TEMPLATE,
        "reports.reports_page_title",
        **context,
        doc=report["doc"],
        zone=report["zone"],
        charts=report["charts"],
    )
