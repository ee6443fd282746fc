"""SLO definition endpoints (docs/api.md#slo-definitions): public reads, like /api/slo. The writes
(PUT/DELETE, admin) belong to the OpenSLO router and call app/slo/definitions/store.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query

from app import deps
from app.config import Settings
from app.contract import errors
from app.services.views import require_service
from app.slo.definitions import service
from app.slo.definitions.models import DefinitionList, DefinitionRead, DefinitionStatus, DefinitionViolationPage

router = APIRouter(tags=["slo"])
NAME = Path(max_length=63, description="the definition's name (a DNS label)")


@router.get(
    "/api/slo-definitions",
    response_model=DefinitionList,
    summary="SLO definitions: the built-in tier ones (read-only) and the stored ones",
)
async def list_definitions(conn: asyncpg.Connection = Depends(deps.connection)) -> dict[str, Any]:
    return await service.list_public(conn)


@router.get(
    "/api/slo-definitions/{name}",
    response_model=DefinitionRead,
    responses=errors(404),
    summary="One SLO definition",
)
async def get_definition(name: str = NAME, conn: asyncpg.Connection = Depends(deps.connection)) -> dict[str, Any]:
    definition, stored = await service.find(conn, name)
    return service.to_public(definition, stored)


@router.get(
    "/api/slo-definitions/{name}/status",
    response_model=DefinitionStatus,
    responses=errors(404),
    summary="An SLO definition now, per service: window, SLI, met, error budget, burn rates, percentile, "
    "open violations",
)
async def definition_status(
    name: str = NAME,
    conn: asyncpg.Connection = Depends(deps.connection),
    settings: Settings = Depends(deps.settings),
    now: datetime = Depends(deps.clock),
) -> dict[str, Any]:
    definition, _ = await service.find(conn, name)
    return await service.status(conn, definition, now, settings.zone)


@router.get(
    "/api/slo-definitions/{name}/violations",
    response_model=DefinitionViolationPage,
    responses=errors(404),
    summary="An SLO definition's violations, newest first: filter by service and open/closed",
)
async def definition_violations(
    name: str = NAME,
    service_id: str | None = Query(None, alias="serviceId", max_length=50),
    state: Literal["open", "closed"] | None = None,
    page: int = Query(1, ge=1, le=10_000),
    limit: int = Query(50, ge=1, le=200),
    conn: asyncpg.Connection = Depends(deps.connection),
    now: datetime = Depends(deps.clock),
) -> dict[str, Any]:
    definition, _ = await service.find(conn, name)
    if service_id is not None:
        await require_service(conn, service_id)
    return await service.violations(conn, definition, now, service_id=service_id, state=state, page=page, limit=limit)
