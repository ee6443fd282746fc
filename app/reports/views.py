"""Monthly SLA reports over HTTP: GET any format of a month (public, like every SLA read), the
revision history, and an admin's correction (a new revision)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import errors
from app.errors import ApiError
from app.reports import render, service
from app.reports.models import ReportDocument, RevisionCreate, RevisionCreated, RevisionList
from app.reports.pdf import PdfBusy, PdfUnavailable
from app.services.views import require_service
from app.web.i18n import negotiate
from app.web.security import policy_for_inline_styles

router = APIRouter(tags=["reports"])
admin_router = APIRouter(tags=["reports"], dependencies=[Depends(current_user)])
MonthPath = Path(max_length=20, description="YYYY-MM, a month that has begun in the reporting time zone")
Format = Literal["json", "csv", "html", "pdf"]
_MONTH = "#/paths/~1api~1sla~1reports~1{service_id}~1{month}"
_OF = {"service_id": "$response.body#/serviceId", "month": "$response.body#/month"}
# OpenAPI links: where a new revision can be read (the stateful schemathesis test follows them).
REVISION_LINKS = {
    "ListRevisions": {"operationRef": f"{_MONTH}~1revisions/get", "parameters": _OF},
    "GetRevisionJson": {
        "operationRef": f"{_MONTH}.{{fmt}}/get",
        "parameters": {**_OF, "fmt": "json", "query.revision": "$response.body#/revision"},
    },
    "GetRevisionHtml": {
        "operationRef": f"{_MONTH}.{{fmt}}/get",
        "parameters": {**_OF, "fmt": "html", "query.revision": "$response.body#/revision"},
    },
}


def language(
    lang: str | None = Query(None, max_length=16, description="ko (default) or en"),
    accept_language: str | None = Header(None, max_length=512),
) -> str:
    return negotiate(lang, None, accept_language)


@router.get(
    "/api/sla/reports/{service_id}/{month}.{fmt}",
    summary="A service's monthly SLA report as json, csv, html or pdf: a closed month's latest revision "
    "(or ?revision=N), the running month live and provisional",
    response_model=ReportDocument,
    responses={
        200: {"content": {"application/pdf": {}, "text/csv": {}, "text/html": {}}},
        **errors(
            404,
            503,
            e503={"error": "busy", "message": "2 PDFs are printing and 4 waiting; retry shortly"},
        ),
    },
)
async def report(
    request: Request,
    service_id: str = Path(max_length=50),
    month: str = MonthPath,
    fmt: Format = Path(),
    revision: int | None = Query(None, ge=1, le=100_000),
    lang: str = Depends(language),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> Response:
    # The connection is taken here, not as a dependency: a PDF is printed after it is given back.
    pool = request.app.state.pool
    async with pool.acquire() as conn:
        svc = await require_service(conn, service_id)
        period = service.parse_month(month, settings.zone, now)
        doc = await service.get(conn, svc, period, now, settings.timezone, revision)
        if fmt == "pdf":
            body = await service.cached_pdf(conn, doc, lang)
        else:
            body = await render.as_bytes(doc, fmt, lang)
    if body is None:
        try:
            body = await service.print_pdf(pool, doc, lang, settings.chromium_path)
        except PdfBusy as exc:
            raise ApiError(503, "busy", str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        except PdfUnavailable as exc:
            raise ApiError(503, "pdf_unavailable", str(exc)) from None
    final = doc["report"]["status"] == "final"
    headers = {
        "Content-Disposition": f'inline; filename="{render.file_name(doc, fmt)}"',
        "Cache-Control": "public, max-age=300" if final else "no-cache",
        "Content-Language": lang if fmt in ("html", "pdf") else "und",
    }
    if fmt == "html":  # its stylesheet is inline (a self-contained document): allowed by hash
        headers["Content-Security-Policy"] = policy_for_inline_styles(body.decode())
    return Response(body, media_type=render.MEDIA_TYPES[fmt], headers=headers)


@router.get(
    "/api/sla/reports/{service_id}/{month}/revisions",
    response_model=RevisionList,
    responses=errors(404),
    summary="Every frozen revision of a month's report, oldest first",
)
async def list_revisions(
    service_id: str = Path(max_length=50),
    month: str = MonthPath,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> RevisionList:
    svc = await require_service(conn, service_id)
    period = service.parse_month(month, settings.zone, now)
    return RevisionList(
        service_id=svc["id"], month=period.label, revisions=await service.revisions(conn, svc["id"], period)
    )


@admin_router.post(
    "/api/sla/reports/{service_id}/{month}/revisions",
    status_code=201,
    response_model=RevisionCreated,
    responses={
        201: {"links": REVISION_LINKS},
        **errors(404, 409, e409={"error": "conflict", "message": "face-compare 2026-12 is still running"}),
    },
    summary="Correct a closed month (admin): recompute it from the rows as they are now into "
    "revision N+1, with the reason; audited",
)
async def revise(
    body: RevisionCreate,
    service_id: str = Path(max_length=50),
    month: str = MonthPath,
    actor: Principal = Depends(require("reports:revise")),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> RevisionCreated:
    svc = await require_service(conn, service_id)
    period = service.parse_month(month, settings.zone, now)
    return await service.revise(
        conn, svc, period, now, settings.timezone, body.reason, actor.username, settings.raw_retention_days, actor
    )
