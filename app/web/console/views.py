"""The incident console (port 3005, PRD Phase 2.5): sign-in, `/` open incidents, `/history`, `/create`,
`/{id}`, and the admin pages. Pages read through the domain services directly; writes happen in the
browser through the same REST API everyone uses (app/incidents, app/users, app/maintenance), so the
API's validation, concurrency checks, audit and realtime events apply unchanged."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, get_args
from urllib.parse import parse_qs

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app import deps
from app.auth import passwords
from app.auth import service as auth
from app.auth.deps import client_ip
from app.auth.models import LoginIn
from app.customers import service as customers
from app.errors import ApiError
from app.escalation import engine as escalation_engine
from app.incidents import collaboration
from app.incidents import service as incidents
from app.incidents.models import Priority, Status
from app.maintenance import service as maintenance
from app.oncall import service as oncall
from app.oncall import views as oncall_views
from app.realtime import hub
from app.services import service as services
from app.slo import forecast_service
from app.slo import service as slo
from app.slo.definitions import admin as slo_admin
from app.slo.definitions import forecast as definition_forecast
from app.slo.definitions import openslo as slo_openslo
from app.slo.definitions.model import Definition, Filter, Sli, Window
from app.users import service as users
from app.web.console import session
from app.web.templating import language_of, render, translator

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
MAX_FORM_BYTES = 4096
ServiceFilter = Query(None, max_length=50, pattern=r"^[a-z0-9][a-z0-9-]{0,49}$")
IncidentId = Path(max_length=50, pattern=r"^[A-Za-z0-9._-]+$")
LOGIN_REASONS = ("idle", "signed_out", "logged_out")
STATUSES, PRIORITIES = get_args(Status), get_args(Priority)


def page(
    request: Request, template: str, user: session.PageUser | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """render() plus the session's cookies and what every console page's scripts need."""
    t = translator(language_of(request))
    context.setdefault("nav", None)
    script_data = {
        "token": user.access_token if user else None,
        "user": {
            "id": user.principal.user_id,
            "name": user.principal.username,
            "role": user.principal.role,
            "permissions": sorted(user.permissions),
        }
        if user
        else None,
        "idleTimeoutS": session.IDLE_TIMEOUT_S,
        "texts": t.subset("console.js."),
        **context.pop("script_data", {}),
    }
    response = render(
        request,
        template,
        status_code=status_code,
        user=user,
        csrf=session.csrf_token(request),
        script_data=script_data,
        **context,
    )
    session.apply_cookies(request, response)
    return response


async def signed_in_user(request: Request, conn: asyncpg.Connection = Depends(deps.connection)) -> session.PageUser:
    return await session.require_user(request, conn)


def forbidden(request: Request, user: session.PageUser) -> HTMLResponse:
    return page(request, "console/forbidden.html", user, status_code=403)


async def _service_names(conn: asyncpg.Connection) -> list[dict[str, str]]:
    return [{"id": r["id"], "name": r["name"], "tier": r["tier"]} for r in await services.list_active(conn)]


# -- sign-in ---------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(
    request: Request,
    next: str | None = Query(None, max_length=2000),
    reason: str | None = Query(None, max_length=20),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Response:
    user = await session.signed_in(request, conn)
    if user is not None:
        response = RedirectResponse(session.safe_next(next), status_code=303)
        session.apply_cookies(request, response)
        return response
    session.clear_tokens(request)
    return page(
        request,
        "console/login.html",
        None,
        next=session.safe_next(next),
        reason=reason if reason in LOGIN_REASONS else None,
        error=None,
        username="",
        retry_after="",
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "payload_too_large", f"form over {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "validation_error", "the form is not valid application/x-www-form-urlencoded") from None
    return {key: values[0] for key, values in fields.items()}


@router.post("/login")
async def login(
    request: Request, _slot: None = Depends(passwords.slot), conn: asyncpg.Connection = Depends(deps.connection)
) -> Response:
    form = await _form(request)
    session.check_csrf(request, form.get("csrf"))
    target = session.safe_next(form.get("next"))
    username = form.get("username", "")
    try:
        credentials = LoginIn(username=username, password=form.get("password", ""))
        pair = await auth.login(
            conn,
            request.app.state.settings.resolved_secret_key(),
            credentials.username,
            credentials.password,
            client_ip(request),
            request.headers.get("user-agent", ""),
        )
    except ValidationError:
        return page(
            request,
            "console/login.html",
            None,
            status_code=422,
            next=target,
            reason=None,
            error="console.login.error_required",
            username=username[:64],
            retry_after="",
        )
    except ApiError as exc:
        error = "console.login.error_throttled" if exc.status == 429 else "console.login.error_invalid"
        response = page(
            request,
            "console/login.html",
            None,
            status_code=exc.status,
            next=target,
            reason=None,
            error=error,
            username=username[:64],
            retry_after=(exc.headers or {}).get("Retry-After", ""),
        )
        if exc.headers and "Retry-After" in exc.headers:
            response.headers["Retry-After"] = exc.headers["Retry-After"]
        return response
    session.set_tokens(request, pair)
    redirect = RedirectResponse(target, status_code=303)
    session.apply_cookies(request, redirect)
    return redirect


@router.post("/logout")
async def logout(request: Request, conn: asyncpg.Connection = Depends(deps.connection)) -> Response:
    form = await _form(request)
    session.check_csrf(request, form.get("csrf"))
    user = await session.signed_in(request, conn)
    if user is not None:
        await auth.logout(conn, user.principal)
        await hub(request).disconnect_session(user.principal.session_id)
    session.clear_tokens(request)
    response = RedirectResponse("/login?reason=logged_out", status_code=303)
    session.apply_cookies(request, response)
    return response


# -- incidents -------------------------------------------------------------------------------------


class ListFilters:
    """The list pages' filters: statuses and priorities (any of them), one affected service, a page."""

    def __init__(
        self,
        status: list[Status] = Query([], max_length=4),
        priority: list[Priority] = Query([], max_length=3),
        service: str | None = ServiceFilter,
        page: int = Query(1, ge=1, le=10_000),
    ) -> None:
        self.status, self.priority = list(dict.fromkeys(status)), list(dict.fromkeys(priority))
        self.service, self.page = service, page


async def _list_page(
    request: Request, user: session.PageUser, conn: asyncpg.Connection, mode: str, filters: ListFilters
) -> HTMLResponse:
    statuses = filters.status or (["investigating", "identified", "monitoring"] if mode == "open" else None)
    found = await incidents.search(conn, statuses, filters.priority or None, filters.service, filters.page, PAGE_SIZE)
    return page(
        request,
        "console/list.html",
        user,
        nav=mode,
        mode=mode,
        result=found.model_dump(mode="json"),
        filters={"status": filters.status, "priority": filters.priority, "service": filters.service},
        services=await _service_names(conn),
        statuses=STATUSES,
        priorities=PRIORITIES,
        script_data={
            "page": "list",
            "mode": mode,
            "filters": {"status": statuses, "priority": filters.priority or None, "service": filters.service},
        },
    )


@router.get("/")
async def open_incidents(
    request: Request,
    filters: ListFilters = Depends(),
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    return await _list_page(request, user, conn, "open", filters)


@router.get("/history")
async def history(
    request: Request,
    filters: ListFilters = Depends(),
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    return await _list_page(request, user, conn, "history", filters)


@router.get("/create")
async def create_page(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    if not user.can("incidents:create"):
        return forbidden(request, user)
    draft = await collaboration.get_draft(conn, user.principal.user_id, collaboration.NEW_DRAFT)
    return page(
        request,
        "console/create.html",
        user,
        nav="create",
        services=await _service_names(conn),
        severities=("low", "medium", "high", "critical"),
        priorities=PRIORITIES,
        script_data={"page": "create", "draft": None if draft is None else draft.to_public()},
    )


# -- admin -------------------------------------------------------------------------------------------


@router.get("/admin/users")
async def admin_users(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    if not user.can("users:write"):
        return forbidden(request, user)
    listing = await users.list_users(conn, 1, 200)
    return page(
        request,
        "console/admin_users.html",
        user,
        nav="users",
        users=listing.users,
        roles=("viewer", "reporter", "admin"),
        script_data={"page": "admin-users"},
    )


@router.get("/admin/services")
async def admin_services(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    if not user.can("services:write"):
        return forbidden(request, user)
    rows = await services.list_active(conn)
    return page(
        request,
        "console/admin_services.html",
        user,
        nav="services",
        services=rows,
        tiers=("enterprise_plus", "enterprise", "professional", "developer"),
        script_data={"page": "admin-services"},
    )


@router.get("/admin/maintenance")
async def admin_maintenance(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    if not user.can("maintenance:write"):
        return forbidden(request, user)
    listing = await maintenance.list_windows(conn, None, 1, 200)
    return page(
        request,
        "console/admin_maintenance.html",
        user,
        nav="maintenance",
        windows=listing.windows,
        services=await _service_names(conn),
        script_data={"page": "admin-maintenance"},
    )


@router.get("/admin/customers")
async def admin_customers(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    if not user.can("customers:write"):
        return forbidden(request, user)
    return page(
        request,
        "console/admin_customers.html",
        user,
        nav="customers",
        customers=await customers.list_customers(conn),
        services=await _service_names(conn),
        tiers=("enterprise_plus", "enterprise", "professional", "developer"),
        script_data={"page": "admin-customers"},
    )


@router.get("/slo")
async def slo_page(
    request: Request,
    service: str | None = ServiceFilter,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> Response:
    """A service's SLOs this month and their forecast (docs/sla-math.md "Forecasts"): the error budget,
    when it runs out at the month's and the last 7 days' burn, the chance to miss, open forecast alerts;
    then the stored SLO definitions covering it, with theirs (app/slo/definitions/forecast.py)."""
    active = list(await services.list_active(conn))
    chosen = next((s for s in active if s["id"] == service), active[0] if active and service is None else None)
    if chosen is None:
        return page(request, "console/slo.html", user, nav="slo", services=active, chosen=None, unknown=service)
    settings = request.app.state.settings
    alerting = forecast_service.Settings(settings.forecast_horizon_h * 3600, settings.forecast_miss_probability)
    period = forecast_service.running_month(now, settings.zone)
    report = await slo.report(conn, chosen, period, now, settings.timezone)
    found = (await forecast_service.forecasts(conn, [chosen], now, settings.timezone, settings.zone, alerting))[
        chosen["id"]
    ]
    figures = {s["slo"]: s for s in report["slos"]}
    rows = [
        {**f, "target": figures[f["slo"]]["target"], "current": figures[f["slo"]]["current"]} for f in found["slos"]
    ]
    return page(
        request,
        "console/slo.html",
        user,
        nav="slo",
        services=active,
        chosen=chosen,
        forecast=found,
        rows=rows,
        alerts=await forecast_service.open_alerts(conn, chosen["id"]),
        definitions=await definition_forecast.of_service(conn, chosen, now, settings.zone, alerting),
        unknown=None,
    )


@router.get("/admin/slos")
async def admin_slos(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Response:
    """SLO definitions: the list, an OpenSLO editor for new ones, and each one's YAML to edit; the
    forms call POST /api/slo-definitions:apply and DELETE /api/slo-definitions/{name}."""
    if not user.can(slo_admin.PERMISSION):
        return forbidden(request, user)
    zone = request.app.state.settings.timezone
    definitions = await slo_openslo.load(conn)
    service_ids = [s["id"] for s in await _service_names(conn)]
    starter = Definition(
        name="new-slo",
        display_name="New SLO",
        description="",
        services=tuple(service_ids[:1]),
        sli=Sli(source="checks", good=Filter(ok=True)),
        window=Window("rolling", days=28),
        target=Decimal("99.9"),
    )
    return page(
        request,
        "console/admin_slos.html",
        user,
        nav="slos",
        items=[{"definition": d, "yaml": slo_openslo.export([d], zone)} for d in definitions],
        starter=slo_openslo.export([starter], zone),
        script_data={"page": "admin-slos"},
    )


# -- one incident (last: /{id} would otherwise shadow the fixed paths above) ------------------------


@router.get("/oncall")
async def oncall_page(
    request: Request,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> HTMLResponse:
    """Who is on call in every schedule; admins add and remove overrides and see the feed URLs."""
    can_write = user.can(oncall_views.ADMIN_PERMISSION)
    feed_base = request.app.state.settings.public_url("").rstrip("/") if can_write else None
    schedules = await oncall.list_schedules(conn, now, feed_base)
    return page(
        request,
        "console/admin_oncall.html",
        user,
        nav="oncall",
        schedules=[s.to_public() for s in schedules],  # the page reads a schedule as the API writes it
        can_write=can_write,
        script_data={"page": "admin-oncall"},  # admin.js: the override forms call the API
    )


@router.get("/{incident_id}")
async def incident_page(
    request: Request,
    incident_id: str = IncidentId,
    user: session.PageUser = Depends(signed_in_user),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> HTMLResponse:
    incident = await incidents.get(conn, incident_id)
    if incident is None:
        return page(request, "console/not_found.html", user, status_code=404, incident_id=incident_id)
    comments = await collaboration.list_comments(conn, incident_id, 1, 200)
    escalation = jsonable_encoder(await escalation_engine.read(conn, incident_id))
    draft = None
    if user.can("incidents:draft"):
        draft = await collaboration.get_draft(conn, user.principal.user_id, incident_id)
    service_names = await _service_names(conn)
    shown = incident.to_public()  # the page and its script read the incident as the API writes it
    return page(
        request,
        "console/detail.html",
        user,
        incident=shown,
        comments=[c.to_public() for c in comments.comments],
        escalation=escalation,
        services=service_names,
        statuses=STATUSES,
        severities=("low", "medium", "high", "critical"),
        priorities=PRIORITIES,
        script_data={
            "page": "detail",
            "incident": shown,
            "draft": None if draft is None else draft.to_public(),
            "services": service_names,
        },
    )
