"""GET /api/audit: the audit trail, for admins."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Query

from app import deps
from app.audit import service
from app.audit.models import AuditPage
from app.auth.deps import require

router = APIRouter(tags=["audit"], dependencies=[Depends(require("audit:read"))])


@router.get("/api/audit", response_model=AuditPage, summary="Audit log, newest first (admin)")
async def list_audit(
    actor: str | None = Query(None, max_length=100, description="username or user id"),
    action: str | None = Query(None, max_length=100, description="an action, or a prefix such as 'incident'"),
    target_type: str | None = Query(None, max_length=50),
    target_id: str | None = Query(None, max_length=200),
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> AuditPage:
    return await service.list_entries(
        conn,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        since=deps.utc_instant(since, "since"),
        until=deps.utc_instant(until, "until"),
        page=page,
        limit=limit,
    )
