"""/api/maintenance (windows; GET public like every status read, writes admin) and
PUT /api/services/{id} (admin; runtime edits that services.toml overrides on the next migrate)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from fastapi import APIRouter, Depends, Path, Query

from app import deps
from app.auth.deps import current_user, require
from app.auth.service import Principal
from app.config import Settings
from app.contract import Success, errors
from app.maintenance import service
from app.maintenance.models import (
    MaintenanceCreate,
    MaintenanceUpdate,
    ServiceEdit,
    ServiceEdited,
    WindowOne,
    WindowPage,
)

router = APIRouter(tags=["maintenance"])
admin_router = APIRouter(tags=["maintenance"], dependencies=[Depends(current_user)])
WindowId = Path(ge=1, le=2**62)
_ONE, _ID = "#/paths/~1api~1maintenance~1{window_id}", {"window_id": "$response.body#/window/id"}
# OpenAPI links: what a client (and the stateful schemathesis test) can do next with a new window.
WINDOW_LINKS = {
    "GetWindow": {"operationRef": f"{_ONE}/get", "parameters": _ID},
    "ReplaceWindow": {"operationRef": f"{_ONE}/put", "parameters": _ID},
    "DeleteWindow": {"operationRef": f"{_ONE}/delete", "parameters": _ID},
}


@router.get(
    "/api/maintenance",
    response_model=WindowPage,
    summary="Maintenance windows, newest first; ?active_after= hides ended ones",
)
async def list_windows(
    active_after: datetime | None = None,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> WindowPage:
    return await service.list_windows(conn, deps.utc_instant(active_after, "active_after"), page, limit)


@router.get(
    "/api/maintenance/{window_id}", response_model=WindowOne, responses=errors(404), summary="One maintenance window"
)
async def get_window(window_id: int = WindowId, conn: asyncpg.Connection = Depends(deps.connection)) -> WindowOne:
    return WindowOne(window=await service.get(conn, window_id))


@admin_router.post(
    "/api/maintenance",
    status_code=201,
    response_model=WindowOne,
    responses={201: {"links": WINDOW_LINKS}},
    summary="Schedule a maintenance window (admin)",
)
async def create_window(
    body: MaintenanceCreate,
    actor: Principal = Depends(require("maintenance:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> WindowOne:
    return WindowOne(window=await service.create(conn, body, actor, now, settings.maintenance_notice))


@admin_router.put(
    "/api/maintenance/{window_id}",
    response_model=WindowOne,
    responses=errors(404),
    summary="Replace a maintenance window (admin)",
)
async def update_window(
    body: MaintenanceUpdate,
    window_id: int = WindowId,
    actor: Principal = Depends(require("maintenance:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
) -> WindowOne:
    return WindowOne(window=await service.update(conn, window_id, body, actor, settings.maintenance_notice))


@admin_router.delete(
    "/api/maintenance/{window_id}",
    response_model=Success,
    responses=errors(404),
    summary="Delete a maintenance window (admin)",
)
async def delete_window(
    window_id: int = WindowId,
    actor: Principal = Depends(require("maintenance:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> Success:
    await service.delete(conn, window_id, actor)
    return Success(success=True)


@admin_router.put(
    "/api/services/{service_id}",
    response_model=ServiceEdited,
    responses=errors(404),
    summary="Edit a service now (admin); for services.toml's services, until the next `slamon migrate`",
)
async def edit_service(
    body: ServiceEdit,
    service_id: str = Path(max_length=50),
    actor: Principal = Depends(require("services:write")),
    conn: asyncpg.Connection = Depends(deps.connection),
) -> ServiceEdited:
    return await service.edit_service(conn, service_id, body, actor)
