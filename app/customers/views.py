"""Customers over REST, admin only (docs/api.md, Customers): CRUD of contracts, their target overrides,
and their monthly statements (app/customers/statements.py). Every write is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import errors
from app.customers import delivery, links, longer, render, service, statements
from app.customers.models import (
    CustomerConfig,
    CustomerDetail,
    CustomerList,
    CustomerOne,
    OverrideCreate,
    OverrideOne,
    StatementDeliveryList,
    StatementDocument,
    StatementRevisionCreated,
    StatementRevisionList,
)
from app.errors import ApiError
from app.period_params import report_period, require_begun
from app.periods import Period
from app.reports.models import RevisionCreate
from app.reports.pdf import PdfBusy, PdfUnavailable
from app.reports.service import parse_month
from app.reports.views import MonthPath, language
from app.web.security import policy_for_inline_styles

admin_router = APIRouter(tags=["customers"], dependencies=[Depends(current_user)])
# The link a delivered statement carries (app/customers/links.py): no account, the signed token is the key.
public_router = APIRouter(tags=["customers"])
CustomerIdPath = Path(max_length=50)
# The errors the routes' own code answers (app/customers/service.py, statements.py), with examples.
NOT_FOUND = {"error": "not_found", "message": "unknown customer 'nope'"}
TAKEN = {
    "error": "conflict",
    "message": "customer id 'acme' is taken",
    "details": [{"in": "body", "field": "id", "message": "customer id 'acme' is taken"}],
}
MANAGED_BY_FILE = {
    "error": "conflict",
    "message": "customer 'acme' is managed by customers.toml: change it there and run `slamon migrate`",
}


def statement_responses(period_label: str) -> dict[int | str, dict[str, Any]]:
    """The formats and errors of a statement route (the 409's example names the period)."""
    return {
        200: {"content": {"application/pdf": {}, "text/csv": {}, "text/html": {}}},
        **errors(
            404,
            409,
            503,
            e404=NOT_FOUND,
            e409={
                "error": "conflict",
                "message": f"customer 'acme''s contract starts on 2026-12-01, after {period_label}: no statement",
            },
            e503={"error": "busy", "message": "2 PDFs are printing and 4 waiting; retry shortly"},
        ),
    }


@admin_router.get("/api/customers", response_model=CustomerList, summary="Every customer with its contract (admin)")
async def list_customers(
    actor: Principal = Depends(require("customers:read")), conn: asyncpg.Connection = Depends(deps.connection)
) -> CustomerList:
    return CustomerList(customers=await service.list_customers(conn))


@admin_router.post(
    "/api/customers",
    status_code=201,
    response_model=CustomerOne,
    responses=errors(409, e409=TAKEN),
    summary="Add a customer (admin): tier, monthly fee and ISO 4217 currency, covered services; 409 when "
    "the id is taken",
)
async def create_customer(
    body: CustomerConfig,
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> CustomerOne:
    return CustomerOne(customer=await service.create(conn, body, actor))


@admin_router.get(
    "/api/customers/{customer_id}",
    response_model=CustomerDetail,
    responses=errors(404, e404=NOT_FOUND),
    summary="A customer's contract and target overrides (admin)",
)
async def get_customer(
    customer_id: str = CustomerIdPath,
    actor: Principal = Depends(require("customers:read")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> CustomerDetail:
    return CustomerDetail(
        customer=service.to_read(await service.get(conn, customer_id)),
        overrides=await service.overrides(conn, customer_id),
    )


@admin_router.put(
    "/api/customers/{customer_id}",
    response_model=CustomerOne,
    responses=errors(404, 409, e404=NOT_FOUND, e409=MANAGED_BY_FILE),
    summary="Replace a customer's contract (admin); 409 for a customer of customers.toml (change the file)",
)
async def update_customer(
    body: CustomerConfig,
    customer_id: str = CustomerIdPath,
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> CustomerOne:
    return CustomerOne(customer=await service.update(conn, customer_id, body, actor))


@admin_router.delete(
    "/api/customers/{customer_id}",
    status_code=204,
    responses=errors(404, 409, e404=NOT_FOUND, e409=MANAGED_BY_FILE),
    summary="Remove a customer the API created (admin); its frozen statements stay",
)
async def delete_customer(
    customer_id: str = CustomerIdPath,
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Response:
    await service.delete(conn, customer_id, actor)
    return Response(status_code=204)


@admin_router.post(
    "/api/customers/{customer_id}/overrides",
    status_code=201,
    response_model=OverrideOne,
    responses=errors(404, e404=NOT_FOUND),
    summary="Announce a temporary availability target for the contract (admin); it counts only when "
    "announced at least the maintenance notice period (default 72 h) before it starts",
)
async def add_override(
    body: OverrideCreate,
    customer_id: str = CustomerIdPath,
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> OverrideOne:
    override = await service.add_override(conn, customer_id, body, actor, now, settings.maintenance_notice)
    return OverrideOne(override=override)


@admin_router.delete(
    "/api/customers/{customer_id}/overrides/{override_id}",
    status_code=204,
    responses=errors(404, e404={"error": "not_found", "message": "unknown target override 'acme/3'"}),
    summary="Withdraw an override (admin)",
)
async def delete_override(
    customer_id: str = CustomerIdPath,
    override_id: int = Path(ge=1, le=2**62),
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Response:
    await service.delete_override(conn, customer_id, override_id, actor)
    return Response(status_code=204)


@admin_router.get(
    "/api/customers/{customer_id}/statements/{month}.{fmt}",
    summary="A customer's monthly statement as json, csv (UTF-8 with BOM), html or pdf (admin): a closed "
    "month's latest revision (or ?revision=N), the running month live and provisional",
    response_model=StatementDocument,
    responses=statement_responses("2026-11"),
)
async def statement(
    request: Request,
    customer_id: str = CustomerIdPath,
    month: str = MonthPath,
    fmt: Literal["json", "csv", "html", "pdf"] = Path(),
    revision: int | None = Query(None, ge=1, le=100_000),
    lang: str = Depends(language),
    actor: Principal = Depends(require("customers:read")),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    # The connection is given back before a PDF is printed.
    async with request.app.state.pool.acquire() as conn:
        customer = await service.get(conn, customer_id)
        period = parse_month(month, settings.zone, now)
        doc = await statements.get(conn, customer, period, now, settings.timezone, revision)
    return await _document(doc, fmt, lang, settings)


@admin_router.get(
    "/api/customers/{customer_id}/statements.{fmt}",
    summary="A customer's statement for any period (admin): period=monthly&year=&month= (the monthly "
    "statement), period=quarterly&year=&quarter=, period=yearly&year=, period=range&start=&end= (at most a "
    "year); longer periods are computed from the rows when asked, with each month's credit and their sum",
    response_model=StatementDocument,
    responses=statement_responses("2026-Q3"),
)
async def statement_for_period(
    request: Request,
    customer_id: str = CustomerIdPath,
    fmt: Literal["json", "csv", "html", "pdf"] = Path(),
    period: Period = Depends(report_period),
    lang: str = Depends(language),
    actor: Principal = Depends(require("customers:read")),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    async with request.app.state.pool.acquire() as conn:
        customer = await service.get(conn, customer_id)
        require_begun(period, now)
        if period.label == f"{period.first_day:%Y-%m}":  # a calendar month: the monthly statement
            doc = await statements.get(conn, customer, period, now, settings.timezone)
        else:
            doc = await longer.get(conn, customer, period, now, settings.timezone)
    return await _document(doc, fmt, lang, settings)


async def _document(doc: dict[str, Any], fmt: str, lang: str, settings: Settings) -> Response:
    """The statement in the format asked, with its headers."""
    organisation, logo = settings.organisation_name, settings.organisation_logo
    if fmt == "pdf":
        try:
            body = await render.print_pdf(doc, lang, organisation, logo, settings.chromium_path)
        except PdfBusy as exc:
            raise ApiError(503, "busy", str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        except PdfUnavailable as exc:
            raise ApiError(503, "pdf_unavailable", str(exc)) from None
    else:
        body = render.as_bytes(doc, fmt, lang, organisation, logo)
    headers = {
        "Content-Disposition": f'inline; filename="{render.file_name(doc, fmt)}"',
        "Cache-Control": "private, no-cache",
        "Content-Language": lang if fmt in ("html", "pdf") else "und",
    }
    if fmt == "html":
        headers["Content-Security-Policy"] = policy_for_inline_styles(body.decode())
    return Response(body, media_type=render.MEDIA_TYPES[fmt], headers=headers)


async def customer_month(
    customer_id: str = CustomerIdPath,
    month: str = MonthPath,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> tuple[asyncpg.Record, Period]:
    """The customer and the month of a statement route's path (404, 422 naming `month`)."""
    return await service.get(conn, customer_id), parse_month(month, settings.zone, now)


@admin_router.get(
    "/api/customers/{customer_id}/statements/{month}/revisions",
    response_model=StatementRevisionList,
    responses=errors(404, e404=NOT_FOUND),
    summary="Every frozen revision of a customer's monthly statement, oldest first (admin)",
)
async def statement_revisions(
    # the permission first: a wrong role learns nothing about which customers exist
    actor: Principal = Depends(require("customers:read")),
    target: tuple[asyncpg.Record, Period] = Depends(customer_month),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> StatementRevisionList:
    customer, period = target
    return StatementRevisionList(
        customer_id=customer["id"],
        month=period.label,
        revisions=await statements.revisions(conn, customer["id"], period),
    )


@admin_router.get(
    "/api/customers/{customer_id}/statements/{month}/deliveries",
    response_model=StatementDeliveryList,
    responses=errors(404, e404=NOT_FOUND),
    summary="Every delivery of a customer's monthly statement (admin): who got which revision, when, and "
    "each message's outcome from the delivery log",
)
async def statement_deliveries(
    # the permission first: a wrong role learns nothing about which customers exist
    actor: Principal = Depends(require("customers:read")),
    target: tuple[asyncpg.Record, Period] = Depends(customer_month),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> StatementDeliveryList:
    customer, period = target
    return StatementDeliveryList(
        customer_id=customer["id"],
        month=period.label,
        deliveries=await delivery.history(conn, customer["id"], period),
    )


@admin_router.post(
    "/api/customers/{customer_id}/statements/{month}/revisions",
    status_code=201,
    response_model=StatementRevisionCreated,
    responses=errors(
        404,
        409,
        e404=NOT_FOUND,
        e409={
            "error": "conflict",
            "message": "acme 2026-12 is still running: its statement is provisional until the month closes",
        },
    ),
    summary="Correct a closed month's statement (admin): compose it again from the services' latest report "
    "revisions into revision N+1, with the reason; audited",
)
async def revise_statement(
    body: RevisionCreate,
    customer_id: str = CustomerIdPath,
    month: str = MonthPath,
    actor: Principal = Depends(require("customers:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> StatementRevisionCreated:
    customer = await service.get(conn, customer_id)
    period = parse_month(month, settings.zone, now)
    return await statements.revise(conn, customer, period, now, settings.timezone, body.reason, actor.username, actor)


@public_router.get(
    "/api/public/statements/{token}",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}},
        **errors(404, e404={"error": "not_found", "message": "this statement link is not valid"}),
    },
    summary="The statement revision a delivery sent, as HTML, through the signed link of its email or "
    "webhook (no account: the link is the key)",
)
async def shared_statement(
    token: str = Path(max_length=1000),
    lang: str = Depends(language),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    try:
        link = links.read(settings.resolved_secret_key(), token)
        customer = await service.get(conn, link.customer_id)
        period = parse_month(link.month, settings.zone, now)
        doc = await statements.get(conn, customer, period, now, settings.timezone, link.revision)
    except (links.LinkError, ApiError):
        # one answer for every bad link: nothing tells whether a customer or a month exists
        raise ApiError(404, "not_found", "this statement link is not valid") from None
    body = render.as_bytes(doc, "html", lang, settings.organisation_name, settings.organisation_logo)
    headers = {
        "Cache-Control": "private, no-cache",
        "Content-Language": lang,
        "Content-Security-Policy": policy_for_inline_styles(body.decode()),
        "Referrer-Policy": "no-referrer",
    }
    return Response(body, media_type=render.MEDIA_TYPES["html"], headers=headers)
